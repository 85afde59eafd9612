"""reels-live domain package, shipped to every function as the CommonLayer."""
