"""The read models' projections: each folds the event log into its denormalized tables.

They run on the projection engine (projector/), which loads them from settings.PROJECTIONS.
"""
