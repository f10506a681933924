"""The stock commands a person sends from the back office (adjust stock after a count or a
write-off), through the same bus, serializer and permission as the REST API. The read-side
admin (readmodels/admin/products.py) shows the stock and the form; this package sends."""
