"""fpcheck's diagnosis engine: reads Stripe and FirstPromoter, runs one check per guide step."""
