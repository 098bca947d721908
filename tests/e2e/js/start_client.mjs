// matrix-js-sdk's own start-up, as Element runs it: startClient() must reach PREPARED
// (push rules, capabilities, filter, first /sync), live events must arrive through the
// long-poll, and push rules must read back and toggle.
//
// Usage: node start_client.mjs BASE_URL. Prints "JS OK" on success; a failed check throws.

if (!Promise.withResolvers) {
    Promise.withResolvers = function () {
        let resolve, reject;
        const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
        return { promise, resolve, reject };
    };
}

const sdk = await import("matrix-js-sdk");
const { ClientEvent, RoomEvent, PushRuleKind } = sdk;
const base = process.argv[2];

function check(condition, what) {
    if (!condition) throw new Error("failed: " + what);
    console.log("ok:", what);
}

function within(ms, what, promise) {
    return Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error("timed out: " + what)), ms)),
    ]);
}

async function session(name) {
    const anon = sdk.createClient({ baseUrl: base });
    await anon.registerRequest({ username: name, password: "pw-" + name, auth: { type: "m.login.dummy" } });
    const login = await anon.loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "pw-" + name,
    });
    return sdk.createClient({ baseUrl: base, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
}

async function start(client) {
    const prepared = new Promise((resolve, reject) => {
        client.on(ClientEvent.Sync, (state, _prev, data) => {
            if (state === "PREPARED") resolve();
            if (state === "ERROR") reject(new Error("sync state ERROR: " + (data?.error?.message || "")));
        });
    });
    await client.startClient({ initialSyncLimit: 10, lazyLoadMembers: true });
    await within(15000, "startClient reaches PREPARED", prepared);
}

const alice = await session("startalice");
const bob = await session("startbob");
await start(alice);
check(true, "alice's startClient reaches PREPARED");
await start(bob);
check(true, "bob's startClient reaches PREPARED");

const caps = await alice.getCapabilities();
check(caps["m.room_versions"]?.default === "10", `capabilities name the default room version: ${JSON.stringify(caps["m.room_versions"])}`);

const rules = await alice.getPushRules();
const master = rules.global.override.find(r => r.rule_id === ".m.rule.master");
check(master && master.enabled === false, "the server-default push rules include a disabled .m.rule.master");
check(rules.global.override.some(r => r.rule_id === ".m.rule.is_user_mention"), "and .m.rule.is_user_mention");
await alice.setPushRuleEnabled("global", PushRuleKind.Override, ".m.rule.master", true);
const after = await alice.getPushRules();
check(after.global.override.find(r => r.rule_id === ".m.rule.master").enabled === true, "toggling .m.rule.master is stored");

const { room_id: room } = await alice.createRoom({ name: "live", preset: "public_chat" });
await bob.joinRoom(room);
const seen = new Promise(resolve => {
    bob.on(RoomEvent.Timeline, (event, r) => {
        if (r?.roomId === room && event.getContent().body === "hello live") resolve(event);
    });
});
await alice.sendTextMessage(room, "hello live");
const event = await within(10000, "bob receives the message through /sync", seen);
check(event.getSender() === alice.getUserId(), `bob's client shows alice's live message (${event.getId()})`);

const { RoomMemberEvent } = sdk;
const typingSeen = new Promise(resolve => {
    bob.on(RoomMemberEvent.Typing, (_event, member) => {
        if (member.userId === alice.getUserId() && member.typing) resolve();
    });
});
await alice.sendTyping(room, true, 20000);
await within(10000, "bob sees alice typing", typingSeen);
check(true, "bob's client shows alice typing (m.typing through /sync)");

const receiptSeen = new Promise(resolve => {
    alice.on(RoomEvent.Receipt, (receiptEvent, r) => {
        const read = receiptEvent.getContent()[event.getId()]?.["m.read"]?.[bob.getUserId()];
        if (r.roomId === room && read) resolve(read);
    });
});
await bob.sendReadReceipt(event);
const read = await within(10000, "alice sees bob's read receipt", receiptSeen);
check(read.ts > 0, `alice's client gets bob's receipt for the message: ${JSON.stringify(read)}`);
await bob.setRoomReadMarkers(room, event.getId());
check(true, "bob sets his read markers");

const joined = await bob.getJoinedRooms();
check(joined.joined_rooms.includes(room), "joined_rooms lists the room");
const members = await bob.getJoinedRoomMembers(room);
check(Object.keys(members.joined).length === 2, `joined_members lists both: ${Object.keys(members.joined)}`);

alice.stopClient();
bob.stopClient();
await alice.logout(true);
console.log("JS OK");
