"""Files a network is made of on disk: the genesis, node keys, a scaffolded testnet directory."""
