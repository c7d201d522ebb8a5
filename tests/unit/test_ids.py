import time
import uuid

from waypost.domain.ids import new_id


def test_ids_are_uuids_that_sort_in_the_order_they_were_made() -> None:
    earlier = [new_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_id()
    assert all(uuid.UUID(value).version == 7 for value in [*earlier, later])
    assert len(set(earlier)) == 1000
    assert max(earlier) < later
