"""What the secretary uses: the weekly digest, /notebook, /export, managing workers and invite
links."""
