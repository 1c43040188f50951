"""Stand-ins for Stripe and FirstPromoter on 127.0.0.1, seeded with one customer per guide failure.
Used by `fpcheck demo` and by the tests."""
