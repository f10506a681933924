# Running sums and counts wide enough for any input the write side accepts: numeric(38,2)
# holds more than 10^24 orders of the largest total. On PostgreSQL the numeric widening does
# not rewrite the tables; integer -> bigint does (per customer and per day: small tables).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0004_orderstatuscount'),
    ]

    operations = [
        migrations.AlterField(
            model_name='customerlifetimevalue',
            name='amount',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=38),
        ),
        migrations.AlterField(
            model_name='customerorderstats',
            name='cancelled_orders_count',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='customerorderstats',
            name='open_orders_count',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='customerorderstats',
            name='orders_count',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='dailysales',
            name='cancellations',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='dailysales',
            name='orders_paid',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='dailysales',
            name='orders_placed',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='dailysales',
            name='refunded',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=38),
        ),
        migrations.AlterField(
            model_name='dailysales',
            name='revenue',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=38),
        ),
    ]
