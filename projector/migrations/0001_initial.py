# The projection engine's checkpoints and dead letters, taken over from `readmodels` (its
# migration 0007) without touching their tables: same names, same rows. Their content types
# move too, so the permissions users and groups hold on them (the projections page needs
# view/change on dead letters) are kept and now read `projector.view_deadletter` etc.

from django.db import connections, migrations, models, router

MODELS = ('deadletter', 'projectioncheckpoint')


def move_content_types(source, target):
    def move(apps, schema_editor):
        ContentType = apps.get_model('contenttypes', 'ContentType')
        Permission = apps.get_model('auth', 'Permission')
        # Content types live where the router puts them (default), not necessarily on the
        # database this migration runs on (the read database under READ_DATABASE_URL).
        alias = router.db_for_write(ContentType)
        if ContentType._meta.db_table not in connections[alias].introspection.table_names():
            return  # content types not migrated yet: no permission to keep
        types = ContentType.objects.using(alias)
        for model in MODELS:
            old = types.filter(app_label=source, model=model).first()
            if old is None:
                continue  # a fresh database: post_migrate creates the new ones
            new = types.filter(app_label=target, model=model).first()
            if new is not None:
                # post_migrate on another database created them before this ran: theirs are
                # fresh, granted to no one yet; the old ones carry the grants.
                Permission.objects.using(alias).filter(content_type=new).delete()
                new.delete()
            old.app_label = target
            old.save(update_fields=['app_label'])

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('readmodels', '0007_engine_tables_to_projector'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DeadLetter',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('projection', models.CharField(max_length=64)),
                        ('position', models.BigIntegerField()),
                        ('event_id', models.UUIDField()),
                        ('event_type', models.CharField(max_length=100)),
                        ('stream_id', models.CharField(max_length=64)),
                        ('status', models.CharField(choices=[('retrying', 'Retrying'), ('parked', 'Parked'), ('held', 'Held behind a parked event'), ('resolved', 'Resolved by retry'), ('skipped', 'Skipped')], max_length=16)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('error', models.TextField(blank=True)),
                        ('traceback', models.TextField(blank=True)),
                        ('next_attempt_at', models.DateTimeField(null=True)),
                        ('first_failed_at', models.DateTimeField(auto_now_add=True)),
                        ('last_failed_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'readmodels_deadletter',
                        'ordering': ['position'],
                        'indexes': [models.Index(fields=['projection', 'stream_id', 'status'], name='deadletter_stream_idx')],
                        'constraints': [models.UniqueConstraint(fields=('projection', 'position'), name='deadletter_projection_position_uniq')],
                    },
                ),
                migrations.CreateModel(
                    name='ProjectionCheckpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('projection', models.CharField(max_length=64)),
                        ('partition', models.PositiveSmallIntegerField()),
                        ('position', models.BigIntegerField(default=0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'readmodels_projectioncheckpoint',
                        'constraints': [models.UniqueConstraint(fields=('projection', 'partition'), name='checkpoint_projection_partition_uniq')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            move_content_types('readmodels', 'projector'),
            move_content_types('projector', 'readmodels'),
        ),
    ]
