"""What tests share: services, waiting with deadlines, HTTP helpers, scenarios, faults and fakes.

Test modules import from here (and from tests.factories), never from one another or from a
conftest, so each test module stands alone and conftest files hold fixtures only.
"""
