"""Environmental inputs: NO2, PM2.5 and NDVI grids per year, and major roads.

Each grid asset validates every delivered year (CRS EPSG:27700, dimensions, resolution, physical
range, coverage of the land, taken as every reference postcode), writes a normalised copy (ascending
axes, float32) under `<home>/environment/<grid>/` for vectorised sampling, and stores a catalogue of
the years it holds in `environment.<grid>`. A bad file fails the asset with an error naming it.
"""


import dagster as dg
import geopandas as gpd
import polars as pl

from cohort_platform.contract.datasets import GRIDS, ROADS_FILE, ROADS_FOLDER, Grid
from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.resources import CohortSettings, open_warehouse
from cohort_platform.ingest.environment import (
    EnvironmentFault,
    discover,
    normalise_grid,
    png_markdown,
    read_roads,
    render_grid_png,
    render_roads_png,
    unrecognised_files,
    validate_grid,
    validate_roads,
)

ROADS = "major_roads"


def environment_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["environment", name])


def raw_env_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


ENVIRONMENT_RAW_SPECS = [
    *(dg.AssetSpec(
        key=raw_env_key(g.name), group_name="raw", kinds={"netcdf"}, owners=["team:data-engineering"],
        description=f"Raw `{g.folder}/{g.prefix}YYYY.nc` files. {g.description}",
        metadata={"folder": g.folder},
    ) for g in GRIDS.values()),
    dg.AssetSpec(
        key=raw_env_key(ROADS), group_name="raw", kinds={"geopackage"}, owners=["team:data-engineering"],
        description=f"Raw `{ROADS_FOLDER}/{ROADS_FILE}`: motorways and A roads as LineStrings in EPSG:27700.",
        metadata={"folder": ROADS_FOLDER},
    ),
]


def _fail(fault: EnvironmentFault) -> dg.Failure:
    return dg.Failure(description=str(fault), metadata={"file": fault.file, "fault": fault.fault})


def build_grid_asset(grid: Grid) -> dg.AssetsDefinition:
    @dg.asset(
        key=environment_key(grid.name),
        deps=[raw_env_key(grid.name), clean_key("postcodes")],
        group_name="clean",
        kinds={"netcdf", "xarray", "duckdb"},
        owners=["team:data-engineering"],
        description=f"{grid.description} Catalogue of validated years; normalised grids under <home>/environment/{grid.folder}/.",
    )
    def _grid(context: dg.AssetExecutionContext, settings: CohortSettings) -> dg.Output[pl.DataFrame]:
        cfg = settings.settings
        files = discover(cfg.raw_dir)[grid.name]
        stray = [str(p.relative_to(cfg.raw_dir)) for p in unrecognised_files(cfg.raw_dir)
                 if p.parent.name == grid.folder and p.name.startswith(grid.prefix)]
        land = _land_points(cfg)
        out_dir = cfg.environment_dir / grid.folder  # the contract's layout, so readers of raw files read these too
        rows = []
        for path in files:
            try:
                report = validate_grid(path, grid, land, cfg.raw_dir)
                normalised = normalise_grid(path, grid, out_dir / path.name, cfg.raw_dir)
            except EnvironmentFault as fault:
                raise _fail(fault) from fault
            rows.append({**_flat(report.to_dict()), "normalised_path": str(normalised)})
            context.log.info(f"{grid.name} {report.year}: coverage {report.land_coverage}, range {report.value_min:.2f}-{report.value_max:.2f}")
        catalogue = pl.DataFrame(rows) if rows else pl.DataFrame(schema={"year": pl.Int64, "file": pl.String, "normalised_path": pl.String})
        metadata: dict[str, object] = {
            "years": dg.MetadataValue.json([r["year"] for r in rows]),
            "files_ignored": dg.MetadataValue.json(stray),
        }
        if rows:
            latest = files[-1]
            metadata["map"] = dg.MetadataValue.md(png_markdown(render_grid_png(latest, grid), f"{grid.name} {rows[-1]['year']}"))
        return dg.Output(catalogue, metadata=metadata)

    return _grid


def _flat(report: dict) -> dict:
    """Reports hold tuples (shape, bounds): store them as text so the catalogue is a plain table."""
    return {k: (str(list(v)) if isinstance(v, (list, tuple)) else v) for k, v in report.items()}


def _land_points(cfg) -> pl.DataFrame | None:
    """The reference postcodes stand for England's land: every one must fall on a grid cell with data."""
    import duckdb

    if not cfg.warehouse_path.exists():
        return None
    con = open_warehouse(cfg.warehouse_path)
    try:
        return con.execute("select easting, northing from clean.postcodes").pl()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


@dg.asset(
    key=environment_key(ROADS),
    deps=[raw_env_key(ROADS)],
    group_name="clean",
    kinds={"geopandas", "geoparquet"},
    owners=["team:data-engineering"],
    description="Major roads (motorways and A roads), validated, as GeoParquet under <home>/environment/; the table lists them without geometry.",
)
def major_roads(context: dg.AssetExecutionContext, settings: CohortSettings) -> dg.Output[pl.DataFrame]:
    cfg = settings.settings
    files = discover(cfg.raw_dir)["roads"]
    if not files:
        context.log.warning("no major roads delivered: road distances will be missing")
        return dg.Output(pl.DataFrame(schema={"road_class": pl.String, "road_number": pl.String, "length_m": pl.Float64}),
                         metadata={"delivered": False})
    try:
        report = validate_roads(files[0], cfg.raw_dir)
        roads: gpd.GeoDataFrame = read_roads(files[0], cfg.raw_dir)
    except EnvironmentFault as fault:
        raise _fail(fault) from fault
    cfg.environment_dir.mkdir(parents=True, exist_ok=True)
    roads.to_parquet(cfg.environment_dir / "major_roads.parquet")
    (cfg.environment_dir / ROADS_FOLDER).mkdir(parents=True, exist_ok=True)
    roads.to_file(cfg.environment_dir / ROADS_FOLDER / ROADS_FILE, layer="roads", driver="GPKG")
    table = pl.DataFrame({
        "road_class": roads["road_class"].astype(str).tolist(),
        "road_number": roads["road_number"].astype(str).tolist(),
        "length_m": roads.geometry.length.tolist(),
    })
    return dg.Output(table, metadata={
        "delivered": True,
        "report": dg.MetadataValue.json(report.to_dict()),
        "geoparquet": str(cfg.environment_dir / "major_roads.parquet"),
        "map": dg.MetadataValue.md(png_markdown(render_roads_png(roads), "major roads")),
    })


ENVIRONMENT_ASSETS = [*(build_grid_asset(g) for g in GRIDS.values()), major_roads]
