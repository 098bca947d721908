// An everyday Element-like session with matrix-js-sdk, unmodified, with the shipped sample
// modules loaded: scrollback, notification counts, media thumbnails, edits and reactions, a redaction both users see, a module's
// refusal, tags, read markers, a password change, leave and forget, logout.
//
// Usage: node everyday_session.mjs BASE_URL. Prints "JS OK" on success; a failed check throws.

import { sdk, check, within, session, start, first, done } from "./common.mjs";

const { RoomEvent, MatrixEventEvent } = sdk;
const base = process.argv[2];

const alice = await session(base, "dayalice");
await start(alice);
const { room_id: roomId } = await alice.createRoom({ name: "daily", preset: "public_chat" });
const bobAnon = await session(base, "daybob");
await bobAnon.joinRoom(roomId);
const history = [];
for (let i = 0; i < 15; i++) {
    history.push((await alice.sendTextMessage(roomId, `history ${i}`)).event_id);
}

// Bob starts after the history was written: 10 events come with the first /sync, the rest
// by scrollback through /messages.
const bob = bobAnon;
await start(bob);
const bobRoom = bob.getRoom(roomId);
check(bobRoom, "bob's client knows the room after startClient");
while (!bobRoom.findEventById(history[0])) {
    const before = bobRoom.getLiveTimeline().getEvents().length;
    await within(10000, "scrollback", bob.scrollback(bobRoom, 30));
    const now = bobRoom.getLiveTimeline().getEvents().length;
    check(now > before || bobRoom.findEventById(history[0]), `scrollback loads older events (${before} → ${now})`);
}
check(true, "bob scrolled back to the first message");

// Notification counts: alice's 15 messages are unread for bob until his read receipt.
check(bobRoom.getUnreadNotificationCount() >= 15, `bob has unread notifications: ${bobRoom.getUnreadNotificationCount()}`);
const newest = bobRoom.findEventById(history[14]);
const cleared = first(bobRoom, RoomEvent.UnreadNotifications, () => bobRoom.getUnreadNotificationCount() === 0, 10000, "the count resets");
await bob.sendReadReceipt(newest);
await cleared;
check(true, "bob's read receipt resets his notification count through /sync");

// Media: an 8×8 PNG uploaded, its 4×4 thumbnail fetched through the authenticated endpoint.
const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu7N9hAAAAAElFTkSuQmCC", "base64");
const { content_uri: mxc } = await alice.uploadContent(png, { type: "image/png", name: "red.png" });
const thumbUrl = bob.mxcUrlToHttp(mxc, 4, 4, "scale", false, true, true);
const thumb = await fetch(thumbUrl, { headers: { Authorization: `Bearer ${bob.getAccessToken()}` } });
const bytes = Buffer.from(await thumb.arrayBuffer());
check(thumb.status === 200 && thumb.headers.get("content-type") === "image/png"
    && bytes.readUInt32BE(16) === 4 && bytes.readUInt32BE(20) === 4,
    `bob gets a 4×4 PNG thumbnail of alice's upload (${thumb.status} ${thumb.headers.get("content-type")} ${bytes.readUInt32BE(16)}×${bytes.readUInt32BE(20)})`);

// An edit seen live: bob's copy of the original shows the new content.
const original = history[14];
const edited = first(bob, MatrixEventEvent.Replaced, ev => ev.getId() === original && ev, 10000, "bob sees the edit");
await alice.sendEvent(roomId, "m.room.message", {
    msgtype: "m.text", body: "* history 14 (edited)",
    "m.new_content": { msgtype: "m.text", body: "history 14 (edited)" },
    "m.relates_to": { rel_type: "m.replace", event_id: original },
});
const editedEvent = await edited;
check(editedEvent.getContent().body === "history 14 (edited)", `bob's client renders the edit: ${editedEvent.getContent().body}`);

// A reaction, read back through /relations as Element does.
await bob.sendEvent(roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: original, key: "🎉" } });
const reactions = await alice.relations(roomId, original, "m.annotation", "m.reaction");
check(reactions.events.length === 1 && reactions.events[0].getRelation()?.key === "🎉", "alice reads bob's reaction through /relations");

// A redaction both see.
const { event_id: secret } = await alice.sendTextMessage(roomId, "secret");
await first(bob, RoomEvent.Timeline, ev => ev.getId() === secret, 10000, "bob receives the secret");
const redactedForBob = first(bob, RoomEvent.Redaction, ev => ev.getAssociatedId?.() === secret || ev.event?.redacts === secret || ev.getContent().redacts === secret, 10000, "bob sees the redaction");
await alice.redactEvent(roomId, secret, undefined, { reason: "oops" });
await redactedForBob;
check(bobRoom.findEventById(secret).isRedacted(), "bob's copy of the message is redacted");
const served = await alice.fetchRoomEvent(roomId, secret);
check(JSON.stringify(served.content) === "{}" && served.unsigned?.redacted_because?.content?.reason === "oops",
    `the server serves the message redacted: ${JSON.stringify(served)}`);

// The sample modules are at work: house_rules tags every event and refuses a blocked word.
check(served.unsigned?.house_rules === "house_rules", "house_rules adds its field to unsigned");
let refusal = null;
try {
    await bob.sendTextMessage(roomId, "want to buy cheap pills?");
} catch (e) {
    refusal = e;
}
check(refusal?.errcode === "M_FORBIDDEN" && refusal?.data?.blocked_word === "buy cheap pills",
    `house_rules refuses the blocked word with M_FORBIDDEN: ${refusal?.errcode} ${JSON.stringify(refusal?.data)}`);

// Tags reach the other session of the same user through /sync.
const tagged = first(alice, RoomEvent.Tags, (_ev, room) => room.roomId === roomId && room.tags["m.favourite"], 10000, "the tag syncs back");
await alice.setRoomTag(roomId, "m.favourite", { order: 0.5 });
check((await tagged).order === 0.5, "alice's favourite tag comes back through /sync");
await alice.deleteRoomTag(roomId, "m.favourite");

// Read markers.
// (The refused message stays in the timeline as a local echo; the marker goes on a sent one.)
const last = bobRoom.getLiveTimeline().getEvents().filter(ev => !ev.status && ev.getId().startsWith("$")).at(-1);
const fullyRead = first(bob, RoomEvent.AccountData,
    ev => ev.getType() === "m.fully_read" && ev.getContent().event_id === last.getId(), 10000, "m.fully_read syncs back");
await bob.setRoomReadMarkers(roomId, last.getId(), last);
await fullyRead;
check(true, `bob's read marker comes back as m.fully_read room account data (${last.getId()})`);

// A password change keeps this session and the new password works.
await bob.setPassword({
    type: "m.login.password", identifier: { type: "m.id.user", user: bob.getUserId() }, password: "pw-daybob",
}, "new-pw-daybob", true);
const relogin = await sdk.createClient({ baseUrl: base }).loginRequest({
    type: "m.login.password", identifier: { type: "m.id.user", user: "daybob" }, password: "new-pw-daybob",
});
check(relogin.user_id === bob.getUserId(), "bob logs in with his new password");

// Leave and forget.
await bob.leave(roomId);
await bob.forget(roomId);
const rooms = await bob.getJoinedRooms();
check(!rooms.joined_rooms.includes(roomId), "after leave and forget the room is gone from joined_rooms");

alice.stopClient();
bob.stopClient();
await alice.logout(true);
await bob.logout(true);
done();
