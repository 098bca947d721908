// Shared by the matrix-js-sdk scripts: the Node 20 polyfill matrix-js-sdk 43 needs, checks
// that print what passed, timeouts that name what hung, and a logged-in session.

if (!Promise.withResolvers) {
    Promise.withResolvers = function () {
        let resolve, reject;
        const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
        return { promise, resolve, reject };
    };
}

export const sdk = await import("matrix-js-sdk");

/** Throw "failed: <what>" unless `condition`; print "ok: <what>" otherwise. */
export function check(condition, what) {
    if (!condition) throw new Error("failed: " + what);
    console.log("ok:", what);
}

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
export function within(ms, what, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out: " + what)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Print "JS OK" and exit at once: the SDK's idle sockets and timers would keep Node alive. */
export function done() {
    console.log("JS OK");
    process.exit(0);
}

/** Register `name` (password "pw-<name>") on `base`, log in, and return the client. */
export async function session(base, name) {
    const anon = sdk.createClient({ baseUrl: base });
    await anon.registerRequest({ username: name, password: "pw-" + name, auth: { type: "m.login.dummy" } });
    const login = await anon.loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "pw-" + name,
    });
    return sdk.createClient({ baseUrl: base, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
}

/** `startClient()` as Element runs it (lazy-loaded members); resolves at PREPARED. */
export async function start(client) {
    const prepared = new Promise((resolve, reject) => {
        client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
            if (state === "PREPARED") resolve();
            if (state === "ERROR") reject(new Error("sync state ERROR: " + (data?.error?.message || "")));
        });
    });
    await client.startClient({ initialSyncLimit: 10, lazyLoadMembers: true });
    await within(15000, "startClient reaches PREPARED", prepared);
}

/** Resolve with the first `event` of `emitter` for which `pick(...args)` is truthy. */
export function first(emitter, event, pick, ms, what) {
    return within(ms, what, new Promise(resolve => {
        const listener = (...args) => {
            const found = pick(...args);
            if (found) {
                emitter.off(event, listener);
                resolve(found);
            }
        };
        emitter.on(event, listener);
    }));
}
