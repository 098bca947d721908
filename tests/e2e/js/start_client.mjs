// matrix-js-sdk's own start-up, as Element runs it: startClient() must reach PREPARED
// (push rules, capabilities, filter, first /sync), live events must arrive through the
// long-poll, and push rules must read back and toggle.
//
// Usage: node start_client.mjs BASE_URL. Prints "JS OK" on success; a failed check throws.

import { sdk, check, within, session as sessionOn, start, done } from "./common.mjs";

const { RoomEvent, PushRuleKind } = sdk;
const base = process.argv[2];
const session = name => sessionOn(base, name);

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
done();
