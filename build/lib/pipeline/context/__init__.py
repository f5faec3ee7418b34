"""The repository state a run builds from: commit, ref, event, as GitHub Actions names them."""
