# pragma version ^0.4.0
# A contract for the tracing tests: storage, logs, nested calls, a caught revert, a create.

interface Traced:
    def store(amount: uint256): nonpayable
    def fail(amount: uint256): nonpayable

event Stored:
    value: uint256

stored: public(uint256)


@external
def store(amount: uint256):
    self.stored = amount
    log Stored(value=amount)


@external
def fail(amount: uint256):
    self.stored = amount
    log Stored(value=amount)
    raise "no thanks"


@external
@payable
def relay(target: address, amount: uint256):
    extcall Traced(target).store(amount)
    ok: bool = raw_call(
        target,
        abi_encode(amount, method_id=method_id("fail(uint256)")),
        revert_on_failure=False,
    )
    assert not ok
    log Stored(value=amount + 1)


@external
def spawn() -> address:
    return create_copy_of(self)
