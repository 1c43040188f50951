"""fpcheck's diagnosis engine: reads Stripe and FirstPromoter, runs one rule per guide step."""
