"""Demo data for `make run`: a small shop (customers, products with stock, a month of
orders in every state) driven through the command bus like any client. Not loaded by
anything but its management command."""
