"""Linux bridge dataplane driver: one bridge per network, taps and veths for ports."""
