# pragma version ^0.4.0
# Prints through Hardhat's console.log, as a contract importing console.sol does.

CONSOLE: constant(address) = 0x000000000000000000636F6e736F6c652e6c6f67


@internal
def _say(amount: uint256):
    raw_call(
        CONSOLE,
        abi_encode("sent %d wei to", amount, msg.sender, method_id=method_id("log(string,uint256,address)")),
        is_static_call=True,
    )


@external
def greet(amount: uint256):
    self._say(amount)


@external
def greet_and_fail(amount: uint256):
    self._say(amount)
    raise "refused"
