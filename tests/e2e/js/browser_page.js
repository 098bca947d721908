// The page headless Chromium runs (bundled by esbuild with matrix-js-sdk): an Element-like
// session from a web page on another origin than the homeserver, so every call crosses
// origins and the browser enforces CORS: register, log in, startClient to PREPARED, create a
// room, send a message, see it arrive in the live timeline, log out.
//
// Query string: hs (the homeserver's base URL), nocors (a URL on a third origin that answers
// without CORS headers). Sets window.__result to {ok: true} or {ok: false, error}; logs each
// step to the console, which the driver prints.

import { createClient, ClientEvent, SyncState } from "matrix-js-sdk";

const params = new URLSearchParams(location.search);
const hs = params.get("hs");
const noCors = params.get("nocors");
const STEP_MS = 30000;

function check(condition, what) {
    if (!condition) throw new Error("failed: " + what);
    console.log("ok: " + what);
}

// A promise that fails with a sentence naming the step when it takes longer than STEP_MS.
function within(what, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${STEP_MS} ms: ${what}`)), STEP_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with what `probe` returns once it returns something, probing every 50 ms.
function until(probe) {
    return new Promise((resolve) => {
        const poll = () => {
            const found = probe();
            if (found) resolve(found); else setTimeout(poll, 50);
        };
        poll();
    });
}

async function session() {
    check(location.origin !== new URL(hs).origin,
        `the page (${location.origin}) and the homeserver (${new URL(hs).origin}) are different origins`);
    // The control: without CORS headers this page may not read another origin at all.
    let blocked = null;
    try { await fetch(noCors); } catch (e) { blocked = e; }
    check(blocked instanceof TypeError, `a server without CORS headers is unreadable from here (${blocked})`);

    const name = "browser" + Date.now();
    const password = "secret-" + name;
    const anon = createClient({ baseUrl: hs });
    const registered = await within("register", anon.registerRequest({
        username: name, password, auth: { type: "m.login.dummy" },
    }));
    check(registered.user_id.startsWith("@" + name + ":"), `register ${registered.user_id}`);
    const login = await within("log in", anon.loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: name }, password,
    }));
    check(login.access_token && login.device_id, `log in (device ${login.device_id})`);

    const client = createClient({
        baseUrl: hs, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id,
    });
    const prepared = new Promise((resolve, reject) => {
        client.on(ClientEvent.Sync, (state, _prev, data) => {
            if (state === SyncState.Prepared) resolve();
            if (state === SyncState.Error) reject(new Error("sync error: " + (data && data.error)));
        });
    });
    await client.startClient({ initialSyncLimit: 10 });
    await within("startClient reaching PREPARED", prepared);
    check(true, "startClient reached PREPARED");

    const { room_id: roomId } = await within("create a room", client.createRoom({ name: "browser room" }));
    check(roomId.startsWith("!"), `create a room ${roomId}`);
    const text = "hello from a browser on another origin";
    const { event_id: eventId } = await within("send a message", client.sendTextMessage(roomId, text));
    check(eventId.startsWith("$"), `send a message ${eventId}`);
    // Sent (not a local echo) and in the room's live timeline, as /sync delivered it.
    const seen = await within("the message in the live timeline", until(() => {
        const room = client.getRoom(roomId);
        const events = room ? room.getLiveTimeline().getEvents() : [];
        return events.find((e) => e.getId() === eventId && e.status === null);
    }));
    check(seen.getContent().body === text && seen.getSender() === login.user_id,
        `the message is in the live timeline: ${seen.getContent().body}`);

    await within("log out", client.logout(true));
    let afterLogout = null;
    try { await client.whoami(); } catch (e) { afterLogout = e; }
    check(afterLogout && afterLogout.httpStatus === 401 && afterLogout.errcode === "M_UNKNOWN_TOKEN",
        `the token is gone after logout: ${afterLogout && afterLogout.httpStatus} ${afterLogout && afterLogout.errcode}`);
}

session().then(
    () => { window.__result = { ok: true }; },
    (e) => { window.__result = { ok: false, error: String((e && e.stack) || e) }; },
);
