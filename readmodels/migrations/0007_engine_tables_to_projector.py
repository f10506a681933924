# The projection engine's checkpoints and dead letters moved to the `projector` app (its
# migration 0001 takes them over). Their tables keep their names and rows: this only drops
# them from this app's state.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0006_orderdetail_timeline_count'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='DeadLetter'),
                migrations.DeleteModel(name='ProjectionCheckpoint'),
            ],
            database_operations=[],
        ),
    ]
