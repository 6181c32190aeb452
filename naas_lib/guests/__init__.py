"""Small real Linux guests for QEMU: the image (:mod:`.image`) and a runner (:mod:`.runner`).

``naas demo`` boots its instances with these when QEMU is available, and the
test suite's QEMU fixture (``tests/guests/qemu.py``) builds the same image.
"""
