"""Infrastructure every package shares: database, table base, errors, time, translations, sealing at
rest, declared lifecycles, job queues, text cleaning."""
