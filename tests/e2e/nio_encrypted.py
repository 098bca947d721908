"""matrix-nio with end-to-end encryption (vodozemac) against modhost, unmodified: two users in
an encrypted room exchange a message each way and decrypt it — device keys uploaded, queried
and claimed, the Megolm session shared to-device.

Usage: python3 nio_encrypted.py BASE_URL STORE_DIR. Prints "E2EE OK" on success; any failed
check raises with a message.
"""

import asyncio
import os
import sys

from nio import (AsyncClient, AsyncClientConfig, LoginResponse, MegolmEvent, RegisterResponse,
                 RoomCreateResponse, RoomMessageText, RoomSendResponse)

BASE, STORE = sys.argv[1], sys.argv[2]


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


async def new_user(name):
    """Register `name`, then log in with an encrypting client whose store is under STORE."""
    plain = AsyncClient(BASE, name)
    registered = await plain.register(name, "pw-" + name)
    check(isinstance(registered, RegisterResponse), f"register {name}: {registered}")
    await plain.close()
    path = os.path.join(STORE, name)
    os.makedirs(path, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = AsyncClient(BASE, name, store_path=path, config=config)
    login = await client.login("pw-" + name)
    check(isinstance(login, LoginResponse), f"log in {name}: {login}")
    return client


async def settle(client):
    """One sync plus the key traffic nio's sync_forever would do after it."""
    await client.sync(timeout=0, full_state=False)
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()


async def wait_for_text(client, room_id, body, seconds=20):
    """Sync `client` until `body` arrives decrypted in `room_id`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        response = await client.sync(timeout=1000)
        await settle(client)
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                return event
            if isinstance(event, MegolmEvent):
                print("still undecryptable:", event.session_id)
    raise AssertionError(f"{client.user_id} never decrypted {body!r}")


async def main():
    alice = await new_user("nioalice")
    bob = await new_user("niobob")
    for client in (alice, bob):
        await settle(client)
    created = await alice.room_create(
        invite=[bob.user_id],
        initial_state=[{"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    check(isinstance(created, RoomCreateResponse), f"alice creates an encrypted room: {getattr(created, 'room_id', created)}")
    room_id = created.room_id
    await settle(bob)
    await bob.join(room_id)
    for client in (alice, bob, alice):
        await settle(client)
    check(alice.rooms[room_id].encrypted, "alice's client sees the room as encrypted")

    sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "psst, bob"},
                                 ignore_unverified_devices=True)
    check(isinstance(sent, RoomSendResponse), f"alice sends encrypted: {getattr(sent, 'event_id', sent)}")
    got = await wait_for_text(bob, room_id, "psst, bob")
    check(got.decrypted, "bob decrypts alice's message")

    await settle(alice)
    sent = await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "got it, alice"},
                               ignore_unverified_devices=True)
    check(isinstance(sent, RoomSendResponse), f"bob sends encrypted: {getattr(sent, 'event_id', sent)}")
    got = await wait_for_text(alice, room_id, "got it, alice")
    check(got.decrypted, "alice decrypts bob's message")

    for client in (alice, bob):
        await client.close()
    print("E2EE OK")


asyncio.run(main())
