// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Escrow
/// @notice A buyer's payment held by the contract until the deal ends: the buyer (or the
/// arbiter) releases it to the seller, or the seller (or the arbiter) refunds it to the
/// buyer, or, once the deadline has passed, the buyer takes it back.
contract Escrow {
    enum State { None, Funded, Released, Refunded }

    struct Deal {
        address buyer;
        address seller;
        address arbiter;
        uint256 amount;
        uint64 deadline;
        State state;
    }

    uint256 public dealCount;
    mapping(uint256 => Deal) public deals;

    event Opened(
        uint256 indexed id,
        address indexed buyer,
        address indexed seller,
        address arbiter,
        uint256 amount,
        uint64 deadline
    );
    event Released(uint256 indexed id, address indexed seller, uint256 amount);
    event Refunded(uint256 indexed id, address indexed buyer, uint256 amount);

    /// Open a deal paying the sent ether to `seller`; returns its id.
    function open(address seller, address arbiter, uint64 deadline)
        external
        payable
        returns (uint256 id)
    {
        require(msg.value > 0, "nothing to hold");
        require(seller != address(0) && seller != msg.sender, "bad seller");
        require(deadline > block.timestamp, "deadline in the past");
        id = ++dealCount;
        deals[id] = Deal(msg.sender, seller, arbiter, msg.value, deadline, State.Funded);
        emit Opened(id, msg.sender, seller, arbiter, msg.value, deadline);
    }

    /// Pay the seller: the buyer or the arbiter.
    function release(uint256 id) external {
        Deal storage deal = _funded(id);
        require(msg.sender == deal.buyer || msg.sender == deal.arbiter, "only buyer or arbiter");
        deal.state = State.Released;
        emit Released(id, deal.seller, deal.amount);
        _pay(deal.seller, deal.amount);
    }

    /// Give the money back: the seller or the arbiter at any time, the buyer after the deadline.
    function refund(uint256 id) external {
        Deal storage deal = _funded(id);
        bool late = block.timestamp >= deal.deadline;
        require(
            msg.sender == deal.seller || msg.sender == deal.arbiter
                || (msg.sender == deal.buyer && late),
            "not allowed to refund yet"
        );
        deal.state = State.Refunded;
        emit Refunded(id, deal.buyer, deal.amount);
        _pay(deal.buyer, deal.amount);
    }

    function _funded(uint256 id) private view returns (Deal storage deal) {
        deal = deals[id];
        require(deal.state == State.Funded, "deal is not open");
    }

    function _pay(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        require(ok, "payment failed");
    }
}
