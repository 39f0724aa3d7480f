# bench: rules arrive with the issue that builds this part.
