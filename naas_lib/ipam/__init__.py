"""Address, MAC and segment id management.

``addresses`` and ``macs`` are pure arithmetic; ``ranges`` is the database
allocator shared by addresses and segment ids: a high-water mark per range
plus a list of released values, so choosing a free value never scans the
range, however large or full it is.
"""
