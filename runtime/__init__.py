"""What a feature (handlers/) may use: the per-update context, settings, i18n, the rendering
types and the effects API. It imports no handler and nothing of delivery/."""
