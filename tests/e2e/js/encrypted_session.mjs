// Two matrix-js-sdk clients with the Rust crypto stack (as Element runs it) in an encrypted
// room: keys uploaded, claimed and queried, room keys sent to-device, a message each way
// decrypted, cross-signing bootstrapped and seen by the other user, and a key backup version
// created with the room's session backed up.
//
// Usage: node encrypted_session.mjs BASE_URL. Prints "JS OK" on success; a failed check throws.

import { sdk, check, within, session, start, first, done } from "./common.mjs";

const { RoomEvent, MatrixEventEvent } = sdk;
const base = process.argv[2];

const alice = await session(base, "cryptalice");
const bob = await session(base, "cryptbob");
await alice.initRustCrypto({ useIndexedDB: false });
await bob.initRustCrypto({ useIndexedDB: false });
await start(alice);
await start(bob);

const invited = first(bob, RoomEvent.MyMembership, (room, membership) => membership === "invite" && room,
    10000, "bob sees the invite");
const { room_id: roomId } = await alice.createRoom({
    name: "secret",
    invite: [bob.getUserId()],
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
});
check((await invited).roomId === roomId, "bob is invited");
const joined = first(alice, RoomEvent.Timeline, ev => ev.getType() === "m.room.member"
    && ev.getStateKey() === bob.getUserId() && ev.getContent().membership === "join", 10000, "alice sees bob join");
await bob.joinRoom(roomId);
await joined;

/** Wait until `receiver` holds `text` decrypted in the room. */
async function receive(receiver, text, what) {
    return within(20000, what, new Promise(resolve => {
        const look = ev => {
            if (ev.getRoomId() !== roomId || ev.getWireType() !== "m.room.encrypted") return;
            const test = () => {
                if (ev.getClearContent()?.body === text) resolve(ev);
            };
            test();
            ev.once(MatrixEventEvent.Decrypted, test);
        };
        receiver.on(RoomEvent.Timeline, look);
    }));
}

const toBob = receive(bob, "hello bob, secretly", "bob decrypts alice's message");
await alice.sendTextMessage(roomId, "hello bob, secretly");
const seenByBob = await toBob;
check(seenByBob.isEncrypted() && seenByBob.getWireContent().ciphertext, "alice's message went encrypted and bob decrypted it");

const toAlice = receive(alice, "hello alice, secretly", "alice decrypts bob's message");
await bob.sendTextMessage(roomId, "hello alice, secretly");
const seenByAlice = await toAlice;
check(seenByAlice.isEncrypted(), "bob's message went encrypted and alice decrypted it");

// Cross-signing: the first upload needs no auth; the SDK signs its device and master key.
await within(20000, "bootstrapCrossSigning", alice.getCrypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async makeRequest => {
        await makeRequest({
            type: "m.login.password", identifier: { type: "m.id.user", user: "cryptalice" }, password: "pw-cryptalice",
        });
    },
}));
const status = await alice.getCrypto().getCrossSigningStatus();
check(status.publicKeysOnDevice && status.privateKeysInSecretStorage !== undefined, "alice has cross-signing keys");

const query = await bob.http.authedRequest("POST", "/keys/query", undefined, { device_keys: { [alice.getUserId()]: [] } });
const master = query.master_keys?.[alice.getUserId()];
check(master && master.usage.includes("master"), "bob's /keys/query shows alice's master key");
check(query.self_signing_keys?.[alice.getUserId()], "bob's /keys/query shows alice's self-signing key");
const aliceDevice = query.device_keys[alice.getUserId()][alice.getDeviceId()];
const sskId = Object.keys(query.self_signing_keys[alice.getUserId()].keys)[0];
check(aliceDevice.signatures[alice.getUserId()][sskId], "alice's device is signed by her self-signing key");

// Bob's crypto learns alice's identity from device_lists.changed and /keys/query.
const verification = await within(20000, "bob sees alice's identity", (async () => {
    for (;;) {
        await bob.getCrypto().getUserDeviceInfo([alice.getUserId()], true);
        const v = await bob.getCrypto().getUserVerificationStatus(alice.getUserId());
        if (v && (await bob.getCrypto().userHasCrossSigningKeys(alice.getUserId(), true))) return v;
        await new Promise(r => setTimeout(r, 200));
    }
})());
check(!verification.isCrossSigningVerified(), "bob sees alice's cross-signing identity (not yet verified by him)");

// Key backup: a new backup version, and the room's Megolm session backed up into it.
await within(30000, "resetKeyBackup", alice.getCrypto().resetKeyBackup());
const backupVersion = await alice.getCrypto().getActiveSessionBackupVersion();
check(backupVersion, `alice's client created and enabled key backup version ${backupVersion}`);
const backedUp = await within(30000, "the session is backed up", (async () => {
    for (;;) {
        const keys = await alice.http.authedRequest("GET", "/room_keys/keys", { version: backupVersion });
        const sessions = keys.rooms?.[roomId]?.sessions ?? {};
        if (Object.keys(sessions).length > 0) return sessions;
        await new Promise(r => setTimeout(r, 200));
    }
})());
const stored = Object.values(backedUp)[0];
check(stored.session_data?.ciphertext && Number.isInteger(stored.first_message_index),
    `the room's session is in the server's backup, encrypted (${Object.keys(backedUp).length} session(s))`);
const latest = await alice.http.authedRequest("GET", "/room_keys/version");
check(latest.version === backupVersion && latest.count >= 1 && latest.etag,
    `GET /room_keys/version reports it: ${JSON.stringify({ version: latest.version, count: latest.count })}`);

alice.stopClient();
bob.stopClient();
done();
