// A generation number per project that every write to its inventory raises, so a list's
// `total_num` can be counted once and reused, exactly, until the inventory changes (a count
// over 100,000 rows costs about 20 ms; bench/inventory-bench.ts). Statement-level triggers
// with transition tables: one bump per statement, whatever writes it (a sync, a cascade).
export const name = 'inventory-generations';

export const up = `
CREATE TABLE inventory_generations (
  project_id text PRIMARY KEY,
  generation bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION inventory_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Ordered, so two statements bumping several projects lock them in the same order.
  INSERT INTO inventory_generations AS g (project_id, generation)
    SELECT DISTINCT project_id, 1 FROM changed ORDER BY project_id
  ON CONFLICT (project_id) DO UPDATE SET generation = g.generation + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER inventory_images_inserted AFTER INSERT ON inventory_images
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION inventory_bump_generation();
CREATE TRIGGER inventory_images_updated AFTER UPDATE ON inventory_images
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION inventory_bump_generation();
CREATE TRIGGER inventory_images_deleted AFTER DELETE ON inventory_images
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION inventory_bump_generation();
`;
