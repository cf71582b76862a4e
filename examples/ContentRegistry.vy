# pragma version ^0.4.0
"""
A registry of shared files for peer-to-peer file sharing.

A file is known by its content hash (the SHA-256 of its bytes). Whoever registers a hash
owns the entry and its metadata (name, size, media type). Peers that hold a copy
announce where it can be fetched (a mirror: a URL, a magnet link, a peer address);
anyone looks an entry up, fetches the file from any mirror and checks it against the
hash. The owner can remove mirrors and hand the entry to another owner.
"""

MAX_MIRRORS: constant(uint256) = 16

struct Entry:
    owner: address
    name: String[100]
    size: uint256
    media_type: String[64]
    registered_at: uint256

event Registered:
    content_hash: indexed(bytes32)
    owner: indexed(address)
    name: String[100]
    size: uint256

event MirrorAdded:
    content_hash: indexed(bytes32)
    host: indexed(address)
    location: String[200]

event MirrorRemoved:
    content_hash: indexed(bytes32)
    location: String[200]

event OwnerChanged:
    content_hash: indexed(bytes32)
    previous: indexed(address)
    owner: indexed(address)

entries: HashMap[bytes32, Entry]
mirror_list: HashMap[bytes32, DynArray[String[200], MAX_MIRRORS]]
entry_count: public(uint256)


@external
def register(content_hash: bytes32, name: String[100], size: uint256, media_type: String[64]):
    """Register a file under its content hash, owned by the caller."""
    assert content_hash != empty(bytes32), "empty content hash"
    assert self.entries[content_hash].owner == empty(address), "already registered"
    self.entries[content_hash] = Entry(
        owner=msg.sender,
        name=name,
        size=size,
        media_type=media_type,
        registered_at=block.timestamp,
    )
    self.entry_count += 1
    log Registered(content_hash=content_hash, owner=msg.sender, name=name, size=size)


@external
def add_mirror(content_hash: bytes32, location: String[200]):
    """Announce a place the file can be fetched from (anyone who holds a copy)."""
    assert self.entries[content_hash].owner != empty(address), "not registered"
    assert len(self.mirror_list[content_hash]) < MAX_MIRRORS, "too many mirrors"
    for known: String[200] in self.mirror_list[content_hash]:
        assert keccak256(known) != keccak256(location), "mirror already listed"
    self.mirror_list[content_hash].append(location)
    log MirrorAdded(content_hash=content_hash, host=msg.sender, location=location)


@external
def remove_mirror(content_hash: bytes32, index: uint256):
    """The owner drops a mirror (the last one takes its place)."""
    assert self.entries[content_hash].owner == msg.sender, "only the owner removes mirrors"
    count: uint256 = len(self.mirror_list[content_hash])
    assert index < count, "no such mirror"
    removed: String[200] = self.mirror_list[content_hash][index]
    self.mirror_list[content_hash][index] = self.mirror_list[content_hash][count - 1]
    self.mirror_list[content_hash].pop()
    log MirrorRemoved(content_hash=content_hash, location=removed)


@external
def transfer(content_hash: bytes32, owner: address):
    """Hand the entry to another owner."""
    assert self.entries[content_hash].owner == msg.sender, "only the owner transfers"
    assert owner != empty(address), "owner cannot be empty"
    self.entries[content_hash].owner = owner
    log OwnerChanged(content_hash=content_hash, previous=msg.sender, owner=owner)


@external
@view
def lookup(content_hash: bytes32) -> Entry:
    """The entry of a content hash (owner is the zero address if unknown)."""
    return self.entries[content_hash]


@external
@view
def mirrors(content_hash: bytes32) -> DynArray[String[200], MAX_MIRRORS]:
    """Where the file can be fetched from."""
    return self.mirror_list[content_hash]
