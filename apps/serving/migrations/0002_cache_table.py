from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):  # noqa: ANN001 (migration signature)
    # The throttle counts live in a database cache shared by all web processes.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("serving", "0001_inference_log")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
