# pragma version ~=0.4.3
event Stored:
    who: indexed(address)
    value: uint256

value: public(uint256)


@deploy
def __init__(initial: uint256):
    self.value = initial


@external
def store(v: uint256):
    assert v != 13, "unlucky"
    self.value = v
    log Stored(who=msg.sender, value=v)
