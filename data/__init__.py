"""FutureMobility mock data: the committed sample (``data/sample``) and its generator."""
