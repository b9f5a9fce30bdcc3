"""Wallet: coupons and red packets a member holds (docs/wallet.md)."""
