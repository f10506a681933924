"""The order commands a person sends from the back office, through the same bus, serializers
and permissions as the REST API. The read-side admin (readmodels/admin) shows orders and
links here; this package alone sends."""
