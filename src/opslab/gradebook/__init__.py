"""``opslab gradebook``: one gradebook from the shards of a grading that ran on several machines."""
