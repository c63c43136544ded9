"""The performance engine: operators, collectives, roofline engine, serving, efficiencies, profiles, predict."""
