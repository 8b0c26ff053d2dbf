# authgate-bench: the documented lifespan hook (`create_db_and_tables`) run once before the
# workers start, so that several workers do not race to create the same table.
import asyncio

from app.db import create_db_and_tables, engine


async def main():
    await create_db_and_tables()
    await engine.dispose()


asyncio.run(main())
