"""The outbox: publish activities and deliver them durably."""
