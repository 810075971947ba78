"""``koc spark-job`` / ``python -m api.cli.spark_job``: the ranking as a Spark job over a lake.

The cluster entry point: reads a Parquet lake (``koc export parquet``, or the same
layout written by other tools) from any Hadoop file system, ranks every user on
Spark and writes the ``scores`` and ``components`` tables as Parquet. No store is
opened. Submit it like any PySpark application, e.g.::

    spark-submit --master yarn --deploy-mode client \\
        --conf spark.executor.instances=16 --conf spark.executor.memory=8g \\
        "$(python -c 'import api.cli.spark_job as m; print(m.__file__)')" \\
        --input s3a://bucket/koc-lake --output s3a://bucket/koc-ranking/2026-10
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import click

from api.cli._ranking_common import UtcDateTime, config_option
from graph.errors import KocError
from influence.config import load_score_config

__all__ = ["command"]


@click.command("spark-job")
@click.option(
    "--input", "input_uri", required=True, help="Lake root: a folder, s3a://, hdfs:// ..."
)
@click.option("--output", "output_uri", required=True, help="Where scores/ and components/ go.")
@click.option(
    "--master",
    default=None,
    help="Spark master (default: the one spark-submit gives, else KOC_SPARK_MASTER).",
)
@config_option
@click.option("--start", type=UtcDateTime(), default=None, help="Window start (inclusive).")
@click.option("--end", type=UtcDateTime(), default=None, help="Window end (exclusive).")
def command(
    input_uri: str,
    output_uri: str,
    master: str | None,
    config_path: Path | None,
    start: datetime | None,
    end: datetime | None,
) -> None:
    """Rank a Parquet lake on Spark and write scores/ and components/ as Parquet.

    Prints one JSON line: rows written, timings, counts.
    """
    from api.services.spark_components import spark_for_run
    from api.services.spark_ranking import compute_ranking_spark, write_ranking_parquet
    from graph.settings import Settings

    settings = Settings()
    # under spark-submit the driver talks to an existing gateway that knows the master
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    try:
        config = load_score_config(config_path or settings.scoring_config)
        with spark_for_run(master or (None if submitted else settings.spark_master)) as spark:
            ranking = compute_ranking_spark(spark, input_uri, config, start=start, end=end)
            rows = write_ranking_parquet(spark, ranking, output_uri)
    except KocError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "output": output_uri,
                "rows": rows,
                "timings": ranking.timings,
                "counts": ranking.row_counts,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    command()
