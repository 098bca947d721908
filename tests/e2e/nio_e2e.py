"""End-to-end run of modhost with matrix-nio, an unmodified Matrix client library.

Usage: python3 nio_e2e.py BASE_URL
Expects the server to load the `demo` module (evil user @evilguy) and `house_rules` (blocked
word "buy cheap pills", invite_blocklist ["@mallory:<server>"]). Prints "E2E OK" on success;
any failed check raises with a message.
"""

import asyncio
import sys

import aiohttp
from nio import (AsyncClient, DownloadResponse, JoinResponse, LoginResponse, RegisterResponse,
                 RoomCreateError, RoomCreateResponse, RoomInviteError, RoomMessagesResponse,
                 RoomResolveAliasResponse, RoomSendError, RoomSendResponse, RoomVisibility,
                 SyncResponse, UploadResponse)

BASE = sys.argv[1]


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


async def new_user(name):
    client = AsyncClient(BASE, name)
    registered = await client.register(name, "secret-" + name)
    check(isinstance(registered, RegisterResponse), f"register {name}: {registered}")
    await client.close()
    client = AsyncClient(BASE, name)
    login = await client.login("secret-" + name)
    check(isinstance(login, LoginResponse), f"log in {name}: {login}")
    return client


async def main():
    alice = await new_user("alice")
    bob = await new_user("bob")
    mallory = await new_user("mallory")
    evil = await new_user("evilguy")
    server = alice.user_id.split(":", 1)[1]

    created = await alice.room_create(visibility=RoomVisibility.public, alias="e2e", name="E2E room",
                                      topic="end to end", invite=[bob.user_id])
    check(isinstance(created, RoomCreateResponse), f"create a room: {created}")
    room = created.room_id

    sync = await bob.sync(timeout=1000)
    check(isinstance(sync, SyncResponse) and room in sync.rooms.invite, "bob sees the invite in /sync")
    joined = await bob.join(room)
    check(isinstance(joined, JoinResponse), f"bob joins: {joined}")

    sent = await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "hello bob"})
    check(isinstance(sent, RoomSendResponse), f"alice sends: {sent}")
    sync = await bob.sync(timeout=3000, since=bob.next_batch)
    bodies = [getattr(e, "body", None) for e in sync.rooms.join[room].timeline.events] if room in sync.rooms.join else []
    check("hello bob" in bodies, f"bob reads the message through /sync: {bodies}")

    messages = await bob.room_messages(room, start=sync.next_batch, limit=5)
    check(isinstance(messages, RoomMessagesResponse) and any(getattr(e, "body", None) == "hello bob" for e in messages.chunk),
          "bob pages back through /messages")

    resolved = await bob.room_resolve_alias(f"#e2e:{server}")
    check(isinstance(resolved, RoomResolveAliasResponse) and resolved.room_id == room, "the alias resolves")

    await alice.set_displayname("Alice A.")
    name = await bob.get_displayname(alice.user_id)
    check(getattr(name, "displayname", None) == "Alice A.", "profile display name round-trips")

    payload = b"modhost e2e media"
    uploaded, _ = await alice.upload(lambda *_: payload, content_type="text/plain", filename="e2e.txt", filesize=len(payload))
    check(isinstance(uploaded, UploadResponse), f"upload: {uploaded}")
    downloaded = await bob.download(uploaded.content_uri)
    check(isinstance(downloaded, DownloadResponse) and downloaded.body == payload, f"download: {downloaded}")

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {bob.access_token}"}) as http:
        async with http.get(f"{BASE}/_matrix/client/v3/publicRooms") as r:
            public = await r.json()
        check(any(c["room_id"] == room for c in public["chunk"]), "the room is in the public room list")
        async with http.post(f"{BASE}/_matrix/client/v3/user_directory/search", json={"search_term": "alice"}) as r:
            found = await r.json()
        check(any(u["user_id"] == alice.user_id for u in found["results"]), "the user directory finds alice")
        async with http.get(f"{BASE}/_synapse/client/demo/hello?name=nio") as r:
            check(await r.json() == {"hello": "nio"}, "the demo module's web resource answers")

    # Denied paths, each refused by a module.
    refused = await evil.room_create(name="nope")
    check(isinstance(refused, RoomCreateError) and refused.status_code == "M_FORBIDDEN", f"demo refuses evilguy's room: {refused}")
    spam = await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "buy cheap pills now"})
    check(isinstance(spam, RoomSendError) and spam.status_code == "M_FORBIDDEN", f"house_rules refuses spam: {spam}")
    own = await mallory.room_create(name="mallory's room")
    check(isinstance(own, RoomCreateResponse), "mallory may create rooms")
    invite = await mallory.room_invite(own.room_id, bob.user_id)
    check(isinstance(invite, RoomInviteError) and invite.status_code == "M_FORBIDDEN", f"house_rules refuses mallory's invite: {invite}")

    for c in (alice, bob, mallory, evil):
        await c.close()
    print("E2E OK")


asyncio.run(main())
