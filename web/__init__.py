"""Edge (both sides' HTTP): what every API endpoint shares, commands and queries alike.
Owns problem+json errors and the 400/404/500 handlers, the bounded JSON parser, the API middleware, the throttles.
May import writeside (its domain errors and money), telemetry; no context, no read side, no projector."""
