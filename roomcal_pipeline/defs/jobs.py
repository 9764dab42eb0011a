"""Jobs. `roomcal run` and `roomcal demo` execute `all_assets_job` for a partition range."""

from dagster import AssetSelection, define_asset_job

from roomcal_pipeline.defs.partitions import daily_partitions

all_assets_job = define_asset_job(
    "roomcal_all_assets",
    selection=AssetSelection.all(),
    description="Every asset: registry, extraction, marts and their checks.",
)

daily_job = define_asset_job(
    "roomcal_daily",
    selection=AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset for one daily partition (the nightly schedule runs yesterday).",
)
