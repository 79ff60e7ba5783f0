"""Conditioning beyond the prompt: regional prompts (``regions``: the contract's Region type;
``regional``: the cross-attention processor the engine installs for a pass)."""
