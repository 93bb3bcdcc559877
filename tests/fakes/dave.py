"""Discord's side of DAVE (end-to-end encrypted voice, protocol 1) for the local voice server.

`davey` is client-side only, so this plays Discord's *external sender*: it signs the MLS
proposals that add (or remove) members, splits the bot's commit from its welcome, and keeps
listener members of the call, each a `davey.DaveSession` owned by the test, that decrypt what
the bot sends (docs: discord-2026.md §1; RFC 9420 for the wire shapes; Discord's own helper
is libdave's `cpp/test/external_sender.cpp`).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import davey
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MLS10 = 1
PUBLIC_MESSAGE = 1
SENDER_MEMBER, SENDER_EXTERNAL = 1, 2
PROPOSAL, COMMIT = 2, 3
ADD, REMOVE = 1, 3
# The magic that ends a DAVE-encrypted frame.
DAVE_MAGIC = b"\xfa\xfa"
# The member who listens to the bot unless a test says otherwise.
LISTENER_ID = 1100000000000000777


def vec(data: bytes) -> bytes:
    """MLS's variable-length vector: a 1, 2 or 4-byte length prefix (RFC 9420 §2.1.2)."""
    size = len(data)
    if size < 1 << 6:
        return bytes([size]) + data
    if size < 1 << 14:
        return struct.pack(">H", 0x4000 | size) + data
    return struct.pack(">I", 0x8000_0000 | size) + data


class Reader:
    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data = data
        self.at = at

    def fixed(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ValueError("truncated MLS message")
        piece = self.data[self.at : self.at + size]
        self.at += size
        return piece

    def u8(self) -> int:
        return self.fixed(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.fixed(2))[0])

    def vec(self) -> bytes:
        first = self.data[self.at]
        prefix = first >> 6
        if prefix == 0:
            size = self.u8() & 0x3F
        elif prefix == 1:
            size = self.u16() & 0x3FFF
        else:
            size = int(struct.unpack(">I", self.fixed(4))[0]) & 0x3FFF_FFFF
        return self.fixed(size)


def _skip_leaf_node(reader: Reader) -> None:
    reader.vec()  # encryption_key
    reader.vec()  # signature_key
    if reader.u16() == 1:  # credential: basic
        reader.vec()
    else:
        reader.vec()  # x509: certificates<V>
    for _ in range(5):  # capabilities: versions, cipher_suites, extensions, proposals, creds
        reader.vec()
    source = reader.u8()
    if source == 1:  # key_package: lifetime
        reader.fixed(16)
    elif source == 3:  # commit: parent_hash
        reader.vec()
    reader.vec()  # extensions
    reader.vec()  # signature


def split_commit_welcome(data: bytes) -> tuple[bytes, bytes]:
    """The bot's op 28 payload, `commit ‖ welcome`: walk the commit's MLSMessage to its end."""
    reader = Reader(data)
    reader.fixed(4)  # version, wire_format
    reader.vec()  # group_id
    reader.fixed(8)  # epoch
    if reader.u8() in (SENDER_MEMBER, SENDER_EXTERNAL):
        reader.fixed(4)
    reader.vec()  # authenticated_data
    if reader.u8() != COMMIT:
        raise ValueError("not a commit")
    reader.vec()  # proposals
    if reader.u8():  # optional<UpdatePath>
        _skip_leaf_node(reader)
        reader.vec()  # nodes
    reader.vec()  # signature
    reader.vec()  # confirmation_tag
    reader.vec()  # membership_tag
    return data[: reader.at], data[reader.at :]


@dataclass
class ExternalSender:
    """Discord's signing key for the call's MLS group."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    identity: bytes = b"discord"

    @property
    def package(self) -> bytes:
        """What op 25 carries: `signature_key<V>` and a basic credential."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return vec(point) + struct.pack(">H", 1) + vec(self.identity)

    def proposal(self, group_id: bytes, epoch: int, body: bytes) -> bytes:
        """One external proposal (an MLSMessage with a PublicMessage), signed."""
        content = (
            vec(group_id)
            + struct.pack(">Q", epoch)
            + bytes([SENDER_EXTERNAL])
            + struct.pack(">I", 0)
            + vec(b"")
            + bytes([PROPOSAL])
            + body
        )
        header = struct.pack(">HH", MLS10, PUBLIC_MESSAGE)
        signed = vec(b"MLS 1.0 FramedContentTBS") + vec(header + content)
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return header + content + vec(signature)

    def add(self, group_id: bytes, epoch: int, key_package: bytes) -> bytes:
        return self.proposal(group_id, epoch, struct.pack(">H", ADD) + key_package)

    def remove(self, group_id: bytes, epoch: int, leaf_index: int) -> bytes:
        return self.proposal(group_id, epoch, struct.pack(">HI", REMOVE, leaf_index))


def proposals_payload(*messages: bytes) -> bytes:
    """Op 27's payload after its opcode: append (0), then the vector of MLSMessages."""
    return b"\x00" + vec(b"".join(messages))


@dataclass
class Listener:
    """A member of the call who listens to the bot: decrypts its end-to-end encrypted frames."""

    user_id: int
    session: davey.DaveSession
    decrypted: int = 0
    failures: int = 0
    # Frames it decrypted after it left the call (end-to-end encryption says: none).
    leaked: int = 0

    @classmethod
    def new(cls, user_id: int, channel_id: int, sender: ExternalSender) -> Listener:
        session = davey.DaveSession(1, user_id, channel_id)
        session.set_external_sender(sender.package)
        return cls(user_id, session)

    @property
    def key_package(self) -> bytes:
        return bytes(self.session.get_serialized_key_package())

    def decrypt(self, sender_id: int, payload: bytes) -> bytes | None:
        try:
            opus = bytes(self.session.decrypt(sender_id, davey.MediaType.audio, payload))
        except Exception:
            self.failures += 1
            return None
        self.decrypted += 1
        return opus


Send = Callable[[int, Any], Awaitable[None]]


class DaveCall:
    """The MLS group of one voice connection, as Discord's voice server keeps it: the bot and
    the listeners the test adds or removes. Every new group (the bot's first key package, a
    re-key, a recovery from a bad commit) adds the wanted listeners afresh."""

    def __init__(
        self, sender: ExternalSender, channel_id: int, bot_id: int, json: Send, binary: Send
    ) -> None:
        self.sender = sender
        self.group_id = struct.pack(">Q", channel_id)
        self.channel_id = channel_id
        self.bot_id = bot_id
        self._json = json
        self._binary = binary
        self.wanted: list[int] = [LISTENER_ID]
        self.listeners: list[Listener] = []
        self.departed: list[Listener] = []
        self._welcoming: list[Listener] = []
        self.epoch = 0
        self.key_packages = 0
        self.commits = 0
        # Transition ids of the bot's op 31 (a commit or welcome it could not process).
        self.invalid: list[int] = []
        self.ready: list[int] = []
        self._transitions = itertools.count(1)
        self._downgrade: int | None = None
        self.corrupt_next_commit = False

    def rebind(self, json: Send, binary: Send) -> None:
        """The bot resumed on a new connection: talk to it there."""
        self._json = json
        self._binary = binary

    # -- what the bot sends -------------------------------------------------------------------

    async def key_package(self, _package: bytes) -> None:
        """Op 26: the bot starts a group (first join, re-key or recovery)."""
        self.key_packages += 1
        self.epoch = 0
        self.departed += self.listeners
        self.listeners = [Listener.new(i, self.channel_id, self.sender) for i in self.wanted]
        self._welcoming = list(self.listeners)
        await self._binary(25, self.sender.package)
        adds = [self.sender.add(self.group_id, 0, lst.key_package) for lst in self.listeners]
        await self._binary(27, proposals_payload(*adds))

    async def commit_welcome(self, data: bytes) -> None:
        """Op 28: the bot committed the proposals; the listeners follow, then the bot is told
        its commit won (welcome first: the bot encrypts with the new keys at once)."""
        commit, welcome = split_commit_welcome(data)
        transition = 0 if self.epoch == 0 else next(self._transitions)
        if self.corrupt_next_commit:
            self.corrupt_next_commit = False
            broken = bytearray(commit)
            broken[len(broken) // 2] ^= 0xFF
            await self._binary(29, struct.pack(">H", transition) + bytes(broken))
            return
        for listener in self.listeners:
            if listener in self._welcoming:
                listener.session.process_welcome(welcome)
            else:
                listener.session.process_commit(commit)
        self._welcoming = []
        self.epoch += 1
        self.commits += 1
        await self._binary(29, struct.pack(">H", transition) + commit)

    async def transition_ready(self, transition_id: int) -> None:
        """Op 23: execute a pending downgrade once the bot is ready for it."""
        self.ready.append(transition_id)
        if transition_id == self._downgrade:
            self._downgrade = None
            await self._json(22, {"transition_id": transition_id})

    def invalid_commit(self, transition_id: int) -> None:
        """Op 31: the bot could not process a commit; it sends a new key package next."""
        self.invalid.append(transition_id)

    # -- what the test does -------------------------------------------------------------------

    async def add_listener(self, user_id: int) -> Listener:
        listener = Listener.new(user_id, self.channel_id, self.sender)
        await self._propose(self.sender.add(self.group_id, self.epoch, listener.key_package))
        self.wanted.append(user_id)
        self.listeners.append(listener)
        self._welcoming = [listener]
        return listener

    async def remove_listener(self, user_id: int) -> Listener:
        listener = next(lst for lst in self.listeners if lst.user_id == user_id)
        leaf = listener.session.own_leaf_index
        self.wanted.remove(user_id)
        self.listeners.remove(listener)
        self.departed.append(listener)
        await self._propose(self.sender.remove(self.group_id, self.epoch, leaf))
        return listener

    async def rekey(self) -> None:
        """Op 24 with epoch 1: a new group (the bot re-inits and sends a new key package)."""
        await self._json(24, {"protocol_version": 1, "epoch": 1})

    async def downgrade(self) -> None:
        """Ops 21 then, once the bot is ready (op 23), 22: to protocol 0, unencrypted."""
        self._downgrade = next(self._transitions)
        await self._json(21, {"transition_id": self._downgrade, "protocol_version": 0})

    async def _propose(self, message: bytes) -> None:
        payload = proposals_payload(message)
        for listener in self.listeners:
            listener.session.process_proposals(davey.ProposalsOperationType.append, payload[1:])
        await self._binary(27, payload)

    # -- what the bot plays -------------------------------------------------------------------

    def decrypt(self, payload: bytes) -> tuple[bytes | None, bool]:
        """The Opus frame every listener decrypted (None if one could not), and whether it was
        end-to-end encrypted at all."""
        if not payload.endswith(DAVE_MAGIC):
            return payload, False
        frames = {lst.decrypt(self.bot_id, payload) for lst in self.listeners}
        for gone in self.departed:
            if gone.decrypt(self.bot_id, payload) is not None:
                gone.leaked += 1
        if None in frames or len(frames) != 1:
            return None, True
        return frames.pop(), True
