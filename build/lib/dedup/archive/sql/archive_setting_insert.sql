-- Store one archive setting. $1 = name, $2 = value (text).
INSERT INTO settings VALUES ($1, $2)
