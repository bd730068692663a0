"""Model families: one file each (gan, vae, …), the same small interface in each."""
