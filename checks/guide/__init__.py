"""One module per step of FirstPromoter's troubleshooting guide: plain functions of the facts.
checks/catalog.py names which function judges which check."""
