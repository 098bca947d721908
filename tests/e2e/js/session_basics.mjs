// matrix-js-sdk (the library Element is built on), unmodified, against modhost: register,
// log in, create a room, send, read it back with /messages, see the demo module's refusal,
// log out. The whole Element-like session (startClient, sync, receipts, …) follows in the
// real-clients suite; this script proves the bootstrap and the plain HTTP paths.
//
// Usage: node session_basics.mjs BASE_URL. Prints "JS OK" on success; a failed check throws.

import { sdk, check, done } from "./common.mjs";

const { createClient } = sdk;
const base = process.argv[2];

async function newUser(name) {
    const anon = createClient({ baseUrl: base });
    const registered = await anon.registerRequest({
        username: name, password: "secret-" + name, auth: { type: "m.login.dummy" },
    });
    check(registered.user_id.startsWith("@" + name + ":"), `register ${name}: ${registered.user_id}`);
    const login = await anon.loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "secret-" + name,
    });
    check(login.access_token && login.device_id, `log in ${name} (device ${login.device_id})`);
    return createClient({ baseUrl: base, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
}

const alice = await newUser("jsalice");
const evil = await newUser("evilguy");

const versions = await alice.getVersions();
check(Array.isArray(versions.versions) && versions.versions.length > 0, `GET /versions: ${versions.versions}`);

const { room_id: room } = await alice.createRoom({ name: "js room", preset: "private_chat" });
check(room.startsWith("!"), `create a room: ${room}`);

const { event_id: sent } = await alice.sendTextMessage(room, "hello from js");
check(sent.startsWith("$"), `send a message: ${sent}`);

const page = await alice.createMessagesRequest(room, null, 10, "b");
const bodies = page.chunk.filter(e => e.type === "m.room.message").map(e => e.content.body);
check(bodies.includes("hello from js"), `read it back with /messages: ${JSON.stringify(bodies)}`);

// The demo module refuses room creation by its evil user, as Synapse's example does.
let refusal = null;
try { await evil.createRoom({ name: "nope" }); } catch (e) { refusal = e; }
check(refusal && refusal.httpStatus === 403 && refusal.errcode === "M_FORBIDDEN",
    `the demo module refuses the evil user's room: ${refusal && refusal.httpStatus} ${refusal && refusal.errcode}`);

await alice.logout(true);
let afterLogout = null;
try { await alice.whoami(); } catch (e) { afterLogout = e; }
check(afterLogout && afterLogout.httpStatus === 401 && afterLogout.errcode === "M_UNKNOWN_TOKEN",
    `the token is gone after logout: ${afterLogout && afterLogout.httpStatus} ${afterLogout && afterLogout.errcode}`);

done();
