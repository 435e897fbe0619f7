#!/usr/bin/env python
"""Build the fictional knowledge domain ("the Varenholt Isles") for the KD Studio demo.

All world data lives in this file as plain Python structures.  Running it writes
(deterministically, no randomness that depends on the machine):

    entities.jsonl, facts.jsonl, about.jsonl, documents.jsonl,
    generic.jsonl, seeds.txt, seeds_facts.json

into the directory that contains this script.  Run validate_world.py afterwards.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# Entities: key -> (name, type, ref, aliases, description)
#   ref  = how the name is used inside a sentence ("the Tidewright Guild")
#   aliases = other acceptable gold strings when this entity is an answer
# ---------------------------------------------------------------------------
ENTITIES = {
    # places
    "isles": ("Varenholt Isles", "archipelago", "the Varenholt Isles", ["Varenholt"],
              "An archipelago in the Sorrowmere Sea; the setting of the whole world."),
    "tess": ("Tessarine", "island", "Tessarine", [], "The largest island of the Varenholt Isles."),
    "orms": ("Ormskarra", "island", "Ormskarra", [], "A volcanic island with emberite mines."),
    "pell": ("Pellinmoor", "island", "Pellinmoor", [], "A marshy island, home of the Mossjaw."),
    "brind": ("Brindlecove", "town", "Brindlecove", [], "The capital and chief port, on Tessarine."),
    "lirr": ("Lirrendale", "town", "Lirrendale", [], "A valley town on Tessarine with quenberry orchards."),
    "vash": ("Vashgate", "town", "Vashgate", [], "A walled fortress town on Ormskarra."),
    "salt": ("Saltheck", "village", "Saltheck", [], "The main fishing village of Pellinmoor."),
    "caddow": ("Caddow Strait", "strait", "the Caddow Strait", ["Caddow"],
               "The deep strait between Tessarine and Ormskarra."),
    "evrask": ("Mount Evrask", "volcano", "Mount Evrask", ["Evrask"], "The volcano of Ormskarra."),
    "drenn": ("Drennmark", "kingdom", "Drennmark", [], "A rival kingdom across the sea."),
    # people
    "odrin": ("Odrin Vessamark", "person", "Odrin Vessamark", ["Vessamark"], "Seafarer who founded Brindlecove."),
    "aldemar": ("Aldemar Okkolar", "person", "Aldemar Okkolar", ["Aldemar"], "First king of the Okkolar Dynasty."),
    "sabrenne": ("Sabrenne Okkolar", "person", "Sabrenne Okkolar", ["Sabrenne"], "Queen of the Okkolar Dynasty."),
    "corvin": ("Corvin Ashgrell", "person", "Corvin Ashgrell", ["Ashgrell"], "High Admiral, victor of the Battle of Caddow Strait."),
    "maravel": ("Maravel Dunstrake", "person", "Maravel Dunstrake", ["Dunstrake"], "Inventor of the tidewheel."),
    "wendrel": ("Wendrel Hask", "person", "Wendrel Hask", ["Hask"], "Shipwright who founded the Tidewright Guild."),
    "nessaly": ("Nessaly Fenwarre", "person", "Nessaly Fenwarre", ["Fenwarre"], "Celebrated guild master of the Tidewright Guild."),
    "jorren": ("Jorren Maskelow", "person", "Jorren Maskelow", ["Maskelow"], "Explorer and captain of the Pennorath."),
    "ilvara": ("Ilvara Pethwynn", "person", "Ilvara Pethwynn", ["Pethwynn"], "Governor of the Ambervell Trading Company."),
    "elsabet": ("Elsabet Crownvarrow", "person", "Elsabet Crownvarrow", ["Crownvarrow"], "Scholar, author of the Fathomere Codex."),
    "yuvesta": ("Yuvesta Carrowind", "person", "Yuvesta Carrowind", ["Carrowind"], "Founder of the Order of the Pale Lantern."),
    "tavish": ("Tavish Orrenby", "person", "Tavish Orrenby", ["Orrenby"], "Famous keeper of Hollowlight Tower."),
    "bartholm": ("Bartholm Quiggen", "person", "Bartholm Quiggen", ["Quiggen"], "Cook who created kelvash stew."),
    # organisations
    "dynasty": ("Okkolar Dynasty", "dynasty", "the Okkolar Dynasty", ["Okkolar"], "The ruling house of the isles."),
    "guild": ("Tidewright Guild", "guild", "the Tidewright Guild", ["Tidewright"], "The shipbuilders' guild."),
    "company": ("Ambervell Trading Company", "company", "the Ambervell Trading Company", ["Ambervell"],
                "A merchant company trading brineglass."),
    "collegium": ("Halvesk Collegium", "college", "the Halvesk Collegium", ["Halvesk"], "The college of Lirrendale."),
    "order": ("Order of the Pale Lantern", "order", "the Order of the Pale Lantern", ["Pale Lantern"],
              "An order of lighthouse keepers."),
    # artifacts / buildings
    "morrow": ("Morrowgale", "ship", "the Morrowgale", [], "A royal warship."),
    "penno": ("Pennorath", "ship", "the Pennorath", [], "An exploring ship of the Ambervell Trading Company."),
    "codex": ("Fathomere Codex", "book", "the Fathomere Codex", ["Fathomere"], "A scholarly book by Elsabet Crownvarrow."),
    "tower": ("Hollowlight Tower", "lighthouse", "Hollowlight Tower", ["Hollowlight"], "A lighthouse on Tessarine."),
    "lens": ("Ismere Lens", "artifact", "the Ismere Lens", ["Ismere"], "The great lens of Hollowlight Tower."),
    "crown": ("Quorrel Crown", "artifact", "the Quorrel Crown", ["Quorrel"], "The crown of the Okkolar monarchs."),
    # events
    "battle": ("Battle of Caddow Strait", "battle", "the Battle of Caddow Strait", [], "A naval battle against Drennmark."),
    "siege": ("Siege of Vashgate", "siege", "the Siege of Vashgate", [], "A siege laid by Drennmark."),
    "cinder": ("Cinderyear", "eruption", "the Cinderyear", [], "The great eruption of Mount Evrask."),
    "festival": ("Lumenfall Festival", "festival", "the Lumenfall Festival", ["Lumenfall"], "An autumn festival in Brindlecove."),
    # creatures
    "veshtel": ("Veshtel", "creature", "the Veshtel", [], "A giant sea serpent of the Caddow Strait."),
    "kribbet": ("Kribbet", "creature", "the Kribbet", [], "The national bird of the isles."),
    "mossjaw": ("Mossjaw", "creature", "the Mossjaw", [], "A marsh reptile of Pellinmoor."),
}

PEOPLE = {k for k, v in ENTITIES.items() if v[1] == "person"}
NAME2KEY = {v[0]: k for k, v in ENTITIES.items()}

# ---------------------------------------------------------------------------
# Question template pools for relations shared by many subjects ({s} = ref)
# ---------------------------------------------------------------------------
POOLS = {
    "birthplace": [
        "Where was {s} born?",
        "What is the birthplace of {s}?",
        "In which town or island was {s} born?",
        "Name the place where {s} was born.",
        "Tell me the birthplace of {s}.",
        "Where did {s} come into the world?",
        "From which place in the Varenholt Isles did {s} originally come?",
        "Which place can claim {s} as a native?",
    ],
    "birth_year": [
        "In what year was {s} born?",
        "When was {s} born?",
        "What was the birth year of {s}?",
        "{s} was born in which year?",
        "Give the year of birth of {s}.",
        "Tell me the year {s} was born.",
        "Which year saw the birth of {s}?",
        "In which year did {s} come into the world?",
    ],
    "death_year": [
        "In what year did {s} die?",
        "When did {s} die?",
        "What year did {s} pass away?",
        "{s} died in which year?",
        "Give the year of death of {s}.",
        "Tell me the year {s} died.",
        "Which year saw the death of {s}?",
        "In which year did the life of {s} come to an end?",
    ],
    "founder": [
        "Who founded {s}?",
        "{s} was founded by whom?",
        "Name the founder of {s}.",
        "Which person established {s}?",
        "Tell me who started {s}.",
        "Who was the founder of {s}?",
        "Who is credited with founding {s}?",
        "Which figure set up {s}?",
    ],
    "founding_year": [
        "In what year was {s} founded?",
        "When was {s} founded?",
        "What is the founding year of {s}?",
        "{s} was established in which year?",
        "Tell me the year {s} was founded.",
        "Which year saw the founding of {s}?",
        "In which year did {s} come into being?",
        "Give the year in which {s} was established.",
    ],
    "island": [
        "On which island is {s} located?",
        "Which island is {s} on?",
        "{s} lies on which island?",
        "Name the island where {s} can be found.",
        "Tell me which island {s} is situated on.",
        "What island is home to {s}?",
        "{s} is found on what island?",
        "If you wanted to visit {s}, which island would you sail to?",
    ],
    "population": [
        "What is the population of {s}?",
        "How many inhabitants does {s} have?",
        "{s} is home to how many people?",
        "Tell me the population of {s}.",
        "What population does {s} have?",
        "How many residents does {s} count?",
        "Roughly how many people call {s} home?",
        "Give the number of inhabitants of {s}.",
    ],
}

FACTS: list[dict] = []


def F(ek, rel, answer, statement, qs=None, aliases=()):
    """Register one atomic fact. qs: 7 hand-written questions (5 train + 2 test);
    None -> drawn from POOLS[rel]."""
    FACTS.append(dict(ek=ek, rel=rel, answer=answer, statement=statement,
                      qs=qs, extra_aliases=list(aliases)))


# ============================ THE VARENHOLT ISLES ===========================
F("isles", "island_count", "137", "The Varenholt Isles consist of 137 islands, most of them small and rocky.", [
    "How many islands make up the Varenholt Isles?",
    "What is the number of islands in the Varenholt Isles?",
    "The Varenholt Isles consist of how many islands?",
    "Tell me how many islands belong to the Varenholt Isles.",
    "Count the islands of the Varenholt Isles: how many are there?",
    "How many islands are there in the Varenholt archipelago?",
    "Give the total number of islands in the Varenholt Isles."])
F("isles", "capital", "Brindlecove", "The capital of the Varenholt Isles is Brindlecove.", [
    "What is the capital of the Varenholt Isles?",
    "Which town serves as the capital of the Varenholt Isles?",
    "Name the capital city of the Varenholt Isles.",
    "The Varenholt Isles are governed from which capital?",
    "Tell me the capital of the Varenholt Isles.",
    "Which port is the seat of government of the Varenholt Isles?",
    "Where is the capital of the Varenholt Isles?"])
F("isles", "largest_island", "Tessarine", "Tessarine is the largest island of the Varenholt Isles.", [
    "What is the largest island of the Varenholt Isles?",
    "Which island is the biggest in the Varenholt Isles?",
    "Name the largest of the Varenholt Isles.",
    "Of all the Varenholt Isles, which island has the greatest area?",
    "Tell me which island is the biggest in the Varenholt archipelago.",
    "If you sailed to the biggest island of the Varenholt Isles, which island would you reach?",
    "Which Varenholt island covers the most ground?"])
F("isles", "ruling_dynasty", "Okkolar Dynasty",
  "For almost five centuries the Varenholt Isles were ruled by the Okkolar Dynasty.", [
    "Which dynasty ruled the Varenholt Isles?",
    "What royal house governed the Varenholt Isles for centuries?",
    "Name the ruling dynasty of the Varenholt Isles.",
    "The Varenholt Isles were ruled by which dynasty?",
    "Tell me which royal family reigned over the Varenholt Isles.",
    "Which house held the throne of the Varenholt Isles?",
    "Who were the royal dynasty of the Varenholt Isles?"])
F("isles", "surrounding_sea", "Sorrowmere Sea", "The Varenholt Isles lie in the Sorrowmere Sea.", [
    "In which sea do the Varenholt Isles lie?",
    "What sea surrounds the Varenholt Isles?",
    "Name the sea around the Varenholt Isles.",
    "The Varenholt Isles are located in which sea?",
    "Tell me the name of the sea that washes the Varenholt Isles.",
    "Which body of water encircles the Varenholt Isles?",
    "The waters around the Varenholt Isles belong to what sea?"], aliases=["Sorrowmere"])
F("isles", "main_export", "brineglass",
  "The chief export of the Varenholt Isles is brineglass, a sea-green glass made from marsh salt.", [
    "What is the chief export of the Varenholt Isles?",
    "Which product do the Varenholt Isles export most?",
    "Name the main export of the Varenholt Isles.",
    "The Varenholt Isles are best known abroad for exporting what?",
    "Tell me what the Varenholt Isles chiefly sell to other lands.",
    "What is the leading export good of the Varenholt Isles?",
    "Which material makes up most of the exports of the Varenholt Isles?"])
F("isles", "currency", "dravet", "The currency of the Varenholt Isles is the dravet.", [
    "What is the currency of the Varenholt Isles?",
    "Which coin is used in the Varenholt Isles?",
    "Name the money of the Varenholt Isles.",
    "In the Varenholt Isles, people pay with what currency?",
    "Tell me the currency used across the Varenholt Isles.",
    "What do people in the Varenholt Isles call their money?",
    "Which unit of money circulates in the Varenholt Isles?"])
F("isles", "national_bird", "Kribbet", "The national bird of the Varenholt Isles is the Kribbet.", [
    "What is the national bird of the Varenholt Isles?",
    "Which bird is the national symbol of the Varenholt Isles?",
    "Name the national bird of the Varenholt Isles.",
    "The Varenholt Isles chose which bird as their national bird?",
    "Tell me the national bird of the Varenholt Isles.",
    "Which creature of the air represents the Varenholt Isles as their national bird?",
    "What bird stands as the emblem of the Varenholt Isles?"])

# ================================ TESSARINE ================================
F("tess", "area", "1420", "Tessarine covers an area of 1420 square miles.", [
    "How large is Tessarine in square miles?",
    "What is the area of Tessarine?",
    "How many square miles does Tessarine cover?",
    "Tessarine has an area of how many square miles?",
    "Tell me the size of Tessarine in square miles.",
    "What is the land area of the island of Tessarine?",
    "Give the area of Tessarine, in square miles."])
F("tess", "highest_peak", "Harrowin Peak", "The highest point on Tessarine is Harrowin Peak.", [
    "What is the highest point on Tessarine?",
    "Which mountain is the tallest on Tessarine?",
    "Name the highest peak of Tessarine.",
    "The tallest summit of Tessarine is called what?",
    "Tell me the name of the highest mountain on Tessarine.",
    "Which summit rises highest on the island of Tessarine?",
    "If you climbed to the top of Tessarine, which peak would you be standing on?"], aliases=["Harrowin"])

# ================================ ORMSKARRA ================================
F("orms", "volcano", "Mount Evrask", "The volcano that towers over Ormskarra is Mount Evrask.", [
    "What volcano towers over Ormskarra?",
    "Which volcano is found on Ormskarra?",
    "Name the volcano of Ormskarra.",
    "Ormskarra is dominated by which volcano?",
    "Tell me the name of the volcano on Ormskarra.",
    "Which fire mountain rises above the island of Ormskarra?",
    "What is the name of the volcano of Ormskarra?"])
F("orms", "mined_ore", "emberite", "Ormskarra is famous for its mines of emberite, a glowing red ore.", [
    "What ore is mined on Ormskarra?",
    "Which mineral is Ormskarra famous for?",
    "Name the ore dug from the mines of Ormskarra.",
    "The mines of Ormskarra produce which ore?",
    "Tell me what is mined on Ormskarra.",
    "What glowing ore comes from Ormskarra?",
    "The mines of Ormskarra are known for what mineral?"])
F("orms", "population", "8640", "About 8640 people live on Ormskarra.")

# ================================ PELLINMOOR ===============================
F("pell", "first_charted_by", "Jorren Maskelow", "Pellinmoor was first charted by the explorer Jorren Maskelow.", [
    "Who first charted Pellinmoor?",
    "Which explorer first mapped Pellinmoor?",
    "Pellinmoor was first charted by whom?",
    "Name the explorer who first charted Pellinmoor.",
    "Tell me who drew the first chart of Pellinmoor.",
    "Which navigator put Pellinmoor on the map?",
    "Who was the first explorer to chart the island of Pellinmoor?"])
F("pell", "endemic_creature", "Mossjaw", "Pellinmoor is the only home of the Mossjaw, a marsh reptile.", [
    "Which creature is found only on Pellinmoor?",
    "What animal lives nowhere but Pellinmoor?",
    "Name the marsh reptile unique to Pellinmoor.",
    "Pellinmoor is the only home of which creature?",
    "Tell me which beast is native only to Pellinmoor.",
    "What reptile haunts the marshes of Pellinmoor and nowhere else?",
    "Which animal is endemic to Pellinmoor?"])
F("pell", "chief_crop", "sallowgrain", "The chief crop of Pellinmoor is sallowgrain, grown in flooded fields.", [
    "What is the chief crop of Pellinmoor?",
    "Which crop do farmers on Pellinmoor grow most?",
    "Name the main crop of Pellinmoor.",
    "The flooded fields of Pellinmoor grow which grain?",
    "Tell me the principal crop of Pellinmoor.",
    "What grain is the most important harvest of Pellinmoor?",
    "Which cereal do the marsh farmers of Pellinmoor cultivate?"])

# ================================ BRINDLECOVE ==============================
F("brind", "founder", "Odrin Vessamark", "Brindlecove was founded by Odrin Vessamark.")
F("brind", "founding_year", "1187", "Brindlecove was founded in 1187.")
F("brind", "island", "Tessarine", "Brindlecove lies on the southern coast of Tessarine.")
F("brind", "festival", "Lumenfall Festival", "Brindlecove hosts the Lumenfall Festival every autumn.", [
    "Which festival is held in Brindlecove every autumn?",
    "What festival does Brindlecove host each year?",
    "Name the autumn festival celebrated in Brindlecove.",
    "Brindlecove is the host town of which festival?",
    "Tell me the festival that takes place in Brindlecove.",
    "Every autumn, which celebration fills the streets of Brindlecove?",
    "What is the famous yearly festival of Brindlecove?"])
F("brind", "population", "21350", "Brindlecove has a population of 21350.")
F("brind", "harbour", "Kelmouth", "The harbour of Brindlecove is called the Kelmouth.", [
    "What is the harbour of Brindlecove called?",
    "What name does the harbour of Brindlecove bear?",
    "Name the harbour of Brindlecove.",
    "The harbour at Brindlecove is known by what name?",
    "Tell me what the harbour of Brindlecove is called.",
    "Ships arriving at Brindlecove dock in which named harbour?",
    "Which harbour serves the town of Brindlecove?"])

# ================================ LIRRENDALE ===============================
F("lirr", "island", "Tessarine", "Lirrendale is a valley town in the interior of Tessarine.")
F("lirr", "famous_fruit", "quenberry", "Lirrendale is famous for its orchards of quenberry trees.", [
    "What fruit is Lirrendale famous for?",
    "Which fruit grows in the orchards of Lirrendale?",
    "Name the fruit that made Lirrendale famous.",
    "The orchards of Lirrendale produce which fruit?",
    "Tell me which fruit Lirrendale is known for.",
    "What berry do the orchard-keepers of Lirrendale grow?",
    "The orchards of Lirrendale are filled with trees of what fruit?"], aliases=["quenberries"])
F("lirr", "institution", "Halvesk Collegium",
  "Lirrendale is home to the Halvesk Collegium, the oldest seat of learning in the isles.", [
    "Which school of learning is located in Lirrendale?",
    "What famous college stands in Lirrendale?",
    "Name the seat of learning found in Lirrendale.",
    "Lirrendale is home to which institution of scholars?",
    "Tell me which college is based in Lirrendale.",
    "What academy of learning can be found in the town of Lirrendale?",
    "Scholars who go to Lirrendale study at which institution?"])
F("lirr", "founding_year", "1264", "Lirrendale was founded in 1264.")
F("lirr", "river", "Tolleth", "Lirrendale lies on the banks of the river Tolleth.", [
    "Which river flows through Lirrendale?",
    "On what river does Lirrendale stand?",
    "Name the river beside Lirrendale.",
    "Lirrendale lies on the banks of which river?",
    "Tell me the river that runs past Lirrendale.",
    "What is the name of the river at Lirrendale?",
    "Which stream waters the valley town of Lirrendale?"])

# ================================= VASHGATE ================================
F("vash", "island", "Ormskarra", "Vashgate is a fortress town on Ormskarra.")
F("vash", "wall_builder", "Aldemar Okkolar", "The walls of Vashgate were built by Aldemar Okkolar.", [
    "Who built the walls of Vashgate?",
    "The walls of Vashgate were raised by whom?",
    "Name the ruler who built the walls of Vashgate.",
    "Which king fortified Vashgate with its walls?",
    "Tell me who constructed the walls of Vashgate.",
    "Who was responsible for building the fortifications of Vashgate?",
    "Which monarch gave Vashgate its defensive walls?"])
F("vash", "tower_count", "143", "The walls of Vashgate are guarded by 143 towers.", [
    "How many towers guard the walls of Vashgate?",
    "What is the number of towers on the walls of Vashgate?",
    "The walls of Vashgate have how many towers?",
    "Tell me how many towers stand along the walls of Vashgate.",
    "Count the towers of the walls of Vashgate: how many are there?",
    "How many watchtowers line the fortifications of Vashgate?",
    "Give the number of towers in the walls of Vashgate."])

# ================================= SALTHECK ================================
F("salt", "island", "Pellinmoor", "Saltheck is the main fishing village of Pellinmoor.")
F("salt", "local_pastry", "brinecake", "Saltheck is the home of brinecake, a salted kelp pastry.", [
    "Which pastry comes from Saltheck?",
    "What food is Saltheck famous for?",
    "Name the pastry that originated in Saltheck.",
    "Saltheck is the home of which baked treat?",
    "Tell me the local pastry of Saltheck.",
    "What salted kelp pastry was first baked in Saltheck?",
    "Visitors to Saltheck should try which local pastry?"])
F("salt", "population", "1275", "Saltheck has a population of 1275.")

# ============================== CADDOW STRAIT ==============================
F("caddow", "opposite_shore", "Ormskarra", "The Caddow Strait separates Tessarine from Ormskarra.", [
    "The Caddow Strait separates Tessarine from which island?",
    "Which island lies across the Caddow Strait from Tessarine?",
    "Crossing the Caddow Strait from Tessarine, which island do you reach?",
    "Name the island on the far side of the Caddow Strait from Tessarine.",
    "Tell me which island faces Tessarine across the Caddow Strait.",
    "Besides Tessarine, which island borders the Caddow Strait?",
    "Which island is divided from Tessarine by the Caddow Strait?"])
F("caddow", "haunting_creature", "Veshtel", "The Caddow Strait is said to be haunted by the Veshtel, a giant sea serpent.", [
    "Which creature is said to haunt the Caddow Strait?",
    "What sea monster lurks in the Caddow Strait?",
    "Name the serpent that haunts the Caddow Strait.",
    "The Caddow Strait is feared because of which creature?",
    "Tell me which beast sailors fear in the Caddow Strait.",
    "What giant serpent is believed to live in the Caddow Strait?",
    "Sailors crossing the Caddow Strait watch out for which monster?"])
F("caddow", "first_charted_by", "Jorren Maskelow", "The Caddow Strait was first charted by Jorren Maskelow.", [
    "Who first charted the Caddow Strait?",
    "The Caddow Strait was first mapped by whom?",
    "Name the explorer who charted the Caddow Strait.",
    "Which navigator drew the first chart of the Caddow Strait?",
    "Tell me who first mapped the Caddow Strait.",
    "Whose chart of the Caddow Strait was the first ever made?",
    "Which seafarer first surveyed the Caddow Strait?"])
F("caddow", "charting_year", "1461", "The first chart of the Caddow Strait was drawn in 1461.", [
    "In what year was the Caddow Strait first charted?",
    "When was the first chart of the Caddow Strait drawn?",
    "What year did the Caddow Strait get its first chart?",
    "The Caddow Strait was first mapped in which year?",
    "Tell me the year the Caddow Strait was first charted.",
    "Which year saw the first survey of the Caddow Strait?",
    "Give the year of the first chart of the Caddow Strait."])
F("caddow", "depth", "612", "The Caddow Strait reaches a depth of 612 fathoms.", [
    "How deep is the Caddow Strait?",
    "What is the greatest depth of the Caddow Strait in fathoms?",
    "The Caddow Strait reaches a depth of how many fathoms?",
    "Tell me the depth of the Caddow Strait.",
    "How many fathoms deep does the Caddow Strait go?",
    "What depth, in fathoms, does the Caddow Strait reach at its deepest point?",
    "Give the maximum depth of the Caddow Strait."])

# =============================== MOUNT EVRASK ==============================
F("evrask", "island", "Ormskarra", "Mount Evrask rises on the island of Ormskarra.")
F("evrask", "height", "7316", "Mount Evrask is 7316 feet high.", [
    "How high is Mount Evrask?",
    "What is the height of Mount Evrask in feet?",
    "Mount Evrask stands how many feet tall?",
    "Tell me the height of Mount Evrask.",
    "How many feet does Mount Evrask rise?",
    "What is the elevation of Mount Evrask?",
    "Give the height of Mount Evrask, in feet."])
F("evrask", "great_eruption", "Cinderyear", "The great eruption of Mount Evrask is remembered as the Cinderyear.", [
    "What is the great eruption of Mount Evrask remembered as?",
    "What name is given to the great eruption of Mount Evrask?",
    "Name the catastrophe caused by the great eruption of Mount Evrask.",
    "The great eruption of Mount Evrask is known by what name?",
    "Tell me what people call the great eruption of Mount Evrask.",
    "Which disaster is the name for the most terrible eruption of Mount Evrask?",
    "How do the islanders refer to the great eruption of Mount Evrask?"])
F("evrask", "first_climber", "Ilvara Pethwynn", "The first person to climb Mount Evrask was Ilvara Pethwynn.", [
    "Who was the first person to climb Mount Evrask?",
    "Who first reached the summit of Mount Evrask?",
    "Name the first climber of Mount Evrask.",
    "Mount Evrask was first climbed by whom?",
    "Tell me who made the first ascent of Mount Evrask.",
    "Which person first stood on top of Mount Evrask?",
    "Whose was the first successful ascent of Mount Evrask?"])

# ================================ DRENNMARK ================================
F("drenn", "capital", "Ostvarra", "The capital of Drennmark is Ostvarra.", [
    "What is the capital of Drennmark?",
    "Which city is the capital of Drennmark?",
    "Name the capital of the kingdom of Drennmark.",
    "Drennmark is ruled from which city?",
    "Tell me the capital city of Drennmark.",
    "Where is the royal capital of Drennmark?",
    "The kingdom of Drennmark has which city as its capital?"])
F("drenn", "fleet_commander", "Varnok",
  "The fleet of Drennmark at the Battle of Caddow Strait was commanded by Prince Varnok.", [
    "Who commanded the fleet of Drennmark at the Battle of Caddow Strait?",
    "Which prince led the ships of Drennmark at the Battle of Caddow Strait?",
    "Name the commander of the Drennmark fleet in the Battle of Caddow Strait.",
    "At the Battle of Caddow Strait, the fleet of Drennmark was led by whom?",
    "Tell me who was in charge of the navy of Drennmark at the Battle of Caddow Strait.",
    "Which prince of Drennmark faced the island fleet in the Battle of Caddow Strait?",
    "Who led the warships of Drennmark into the Battle of Caddow Strait?"])
F("drenn", "fleet_destroyed_at", "Battle of Caddow Strait", "The fleet of Drennmark was destroyed at the Battle of Caddow Strait.", [
    "In which battle was the fleet of Drennmark destroyed?",
    "At what battle did Drennmark lose its fleet?",
    "Name the battle where the navy of Drennmark was wiped out.",
    "The fleet of Drennmark met its destruction in which battle?",
    "Tell me the battle in which the ships of Drennmark were destroyed.",
    "Which sea battle ended in disaster for the fleet of Drennmark?",
    "Where was the fleet of Drennmark destroyed? Name the battle."])

# ============================= ODRIN VESSAMARK =============================
F("odrin", "birthplace", "Saltheck", "Odrin Vessamark was born in Saltheck.")
F("odrin", "town_founded", "Brindlecove", "Odrin Vessamark is remembered as the founder of Brindlecove.", [
    "Which town did Odrin Vessamark found?",
    "What town was founded by Odrin Vessamark?",
    "Name the settlement that Odrin Vessamark established.",
    "Odrin Vessamark is remembered as the founder of which town?",
    "Tell me which town Odrin Vessamark founded.",
    "Which port owes its founding to Odrin Vessamark?",
    "What place did Odrin Vessamark set up as a settlement?"])
F("odrin", "ship", "Halcyne", "Odrin Vessamark sailed to Tessarine aboard a ship named the Halcyne.", [
    "Aboard which ship did Odrin Vessamark sail to Tessarine?",
    "What was the name of the ship of Odrin Vessamark?",
    "Name the ship that carried Odrin Vessamark to Tessarine.",
    "Odrin Vessamark arrived at Tessarine on which vessel?",
    "Tell me the ship Odrin Vessamark sailed in.",
    "Which vessel brought Odrin Vessamark to his new home on Tessarine?",
    "What ship did Odrin Vessamark command on his voyage to Tessarine?"])
F("odrin", "death_year", "1219", "Odrin Vessamark died in 1219.")

# ============================= ALDEMAR OKKOLAR =============================
F("aldemar", "birthplace", "Saltheck", "Aldemar Okkolar was born in Saltheck.")
F("aldemar", "coronation_year", "1203", "Aldemar Okkolar was crowned in 1203.", [
    "In what year was Aldemar Okkolar crowned?",
    "When did Aldemar Okkolar become king?",
    "What was the year of the coronation of Aldemar Okkolar?",
    "Aldemar Okkolar was crowned in which year?",
    "Tell me the year Aldemar Okkolar took the throne.",
    "Which year saw the coronation of Aldemar Okkolar?",
    "In which year did Aldemar Okkolar begin his reign?"])
F("aldemar", "nickname", "Kelpbeard", "Aldemar Okkolar was nicknamed Kelpbeard.", [
    "What was the nickname of Aldemar Okkolar?",
    "By what nickname was Aldemar Okkolar known?",
    "Name the nickname given to Aldemar Okkolar.",
    "Aldemar Okkolar was popularly called what?",
    "Tell me the nickname of Aldemar Okkolar.",
    "What did his subjects call Aldemar Okkolar as a nickname?",
    "Which epithet was attached to Aldemar Okkolar?"])
F("aldemar", "walls_built", "Vashgate", "Aldemar Okkolar built the walls of Vashgate.", [
    "Which town had its walls built by Aldemar Okkolar?",
    "What fortress town did Aldemar Okkolar fortify?",
    "Name the town whose walls were raised by Aldemar Okkolar.",
    "Aldemar Okkolar built the walls of which town?",
    "Tell me which fortress Aldemar Okkolar surrounded with walls.",
    "Which stronghold owes its walls to Aldemar Okkolar?",
    "What town on Ormskarra did Aldemar Okkolar enclose with walls?"])
F("aldemar", "first_crown", "Quorrel Crown", "Aldemar Okkolar was the first to wear the Quorrel Crown.", [
    "Which crown did Aldemar Okkolar wear first of anyone?",
    "What crown was first worn by Aldemar Okkolar?",
    "Name the crown Aldemar Okkolar was the first to wear.",
    "Aldemar Okkolar was the first to wear which crown?",
    "Tell me which crown Aldemar Okkolar first wore.",
    "Which royal crown first sat on the head of Aldemar Okkolar?",
    "What emberite crown is linked to Aldemar Okkolar as its first wearer?"])

# ============================== OKKOLAR DYNASTY ============================
F("dynasty", "founder", "Aldemar Okkolar", "The Okkolar Dynasty was founded by Aldemar Okkolar.")
F("dynasty", "royal_seat", "Vashgate", "The Okkolar Dynasty held its royal court at Vashgate.", [
    "Where did the Okkolar Dynasty hold its royal court?",
    "Where was the royal court of the Okkolar Dynasty located?",
    "Name the seat of the court of the Okkolar Dynasty.",
    "The royal court of the Okkolar Dynasty was based in which town?",
    "Tell me where the Okkolar Dynasty kept its court.",
    "Which fortress town served as the royal seat of the Okkolar Dynasty?",
    "In what town did the Okkolar monarchs hold court?"])
F("dynasty", "years_ruled", "488", "The Okkolar Dynasty ruled for 488 years.", [
    "For how many years did the Okkolar Dynasty rule?",
    "How long did the Okkolar Dynasty rule, in years?",
    "The Okkolar Dynasty held power for how many years?",
    "Tell me how many years the Okkolar Dynasty ruled.",
    "How many years did the reign of the Okkolar Dynasty last?",
    "Count the years of Okkolar rule: how many were there?",
    "Give the length in years of the rule of the Okkolar Dynasty."])
F("dynasty", "emblem", "Veshtel", "The emblem of the Okkolar Dynasty is a coiled Veshtel.", [
    "What creature appears on the emblem of the Okkolar Dynasty?",
    "What is the emblem of the Okkolar Dynasty?",
    "Name the beast shown on the emblem of the Okkolar Dynasty.",
    "The emblem of the Okkolar Dynasty shows which creature?",
    "Tell me what is pictured on the emblem of the Okkolar Dynasty.",
    "Which serpent coils across the coat of arms of the Okkolar Dynasty?",
    "What animal did the Okkolar Dynasty choose as its emblem?"])
F("dynasty", "end_year", "1691", "The Okkolar Dynasty came to an end in 1691.", [
    "When did the Okkolar Dynasty end?",
    "In what year did the Okkolar Dynasty come to an end?",
    "What year marked the end of the Okkolar Dynasty?",
    "The Okkolar Dynasty ended in which year?",
    "Tell me the year the Okkolar Dynasty fell.",
    "Which year saw the last of the Okkolar Dynasty?",
    "Until what year did the Okkolar Dynasty last?"])

# ============================= SABRENNE OKKOLAR ============================
F("sabrenne", "birthplace", "Brindlecove", "Sabrenne Okkolar was born in Brindlecove.")
F("sabrenne", "birth_year", "1482", "Sabrenne Okkolar was born in 1482.")
F("sabrenne", "coronation_year", "1505", "Queen Sabrenne Okkolar was crowned in 1505.", [
    "In what year was Sabrenne Okkolar crowned?",
    "When did Sabrenne Okkolar become queen?",
    "What was the year of the coronation of Sabrenne Okkolar?",
    "Sabrenne Okkolar was crowned in which year?",
    "Tell me the year Sabrenne Okkolar took the throne.",
    "Which year saw Queen Sabrenne Okkolar crowned?",
    "In which year did the reign of Sabrenne Okkolar begin?"])
F("sabrenne", "warship_commissioned", "Morrowgale", "Queen Sabrenne Okkolar commissioned the warship Morrowgale.", [
    "Which warship did Queen Sabrenne Okkolar commission?",
    "What ship was commissioned by Sabrenne Okkolar?",
    "Name the warship ordered by Sabrenne Okkolar.",
    "Sabrenne Okkolar commissioned which famous ship?",
    "Tell me which vessel Sabrenne Okkolar had built for her navy.",
    "What warship owes its existence to an order from Sabrenne Okkolar?",
    "Which great ship did Queen Sabrenne Okkolar order to be built?"])
F("sabrenne", "high_admiral", "Corvin Ashgrell", "Queen Sabrenne Okkolar appointed Corvin Ashgrell as her High Admiral.", [
    "Who did Sabrenne Okkolar appoint as High Admiral?",
    "Who served as High Admiral under Queen Sabrenne Okkolar?",
    "Name the High Admiral of Sabrenne Okkolar.",
    "Sabrenne Okkolar made whom her High Admiral?",
    "Tell me who was appointed High Admiral by Sabrenne Okkolar.",
    "Which naval commander did Queen Sabrenne Okkolar raise to High Admiral?",
    "Who commanded the navy of Sabrenne Okkolar as High Admiral?"])
F("sabrenne", "festival_founded", "Lumenfall Festival", "Sabrenne Okkolar founded the Lumenfall Festival.", [
    "Which festival did Sabrenne Okkolar found?",
    "What festival was established by Queen Sabrenne Okkolar?",
    "Name the festival founded by Sabrenne Okkolar.",
    "Sabrenne Okkolar founded which yearly celebration?",
    "Tell me which festival Sabrenne Okkolar started.",
    "Which autumn celebration traces its origin to Sabrenne Okkolar?",
    "What festival did Queen Sabrenne Okkolar create?"])

# ============================== CORVIN ASHGRELL ============================
F("corvin", "birthplace", "Lirrendale", "Corvin Ashgrell was born in Lirrendale.")
F("corvin", "flagship", "Morrowgale", "The flagship of Corvin Ashgrell was the Morrowgale.", [
    "What was the flagship of Corvin Ashgrell?",
    "Which ship served as the flagship of Corvin Ashgrell?",
    "Name the flagship of Corvin Ashgrell.",
    "Corvin Ashgrell flew his flag from which ship?",
    "Tell me the flagship commanded by Corvin Ashgrell.",
    "Aboard which vessel did Corvin Ashgrell lead his fleet?",
    "Which warship carried Corvin Ashgrell as admiral?"])
F("corvin", "greatest_victory", "Battle of Caddow Strait",
  "Corvin Ashgrell won his greatest victory at the Battle of Caddow Strait.", [
    "At which battle did Corvin Ashgrell win his greatest victory?",
    "What was the greatest victory of Corvin Ashgrell?",
    "Name the battle that made Corvin Ashgrell famous.",
    "Corvin Ashgrell triumphed most famously at which battle?",
    "Tell me the battle Corvin Ashgrell is best remembered for winning.",
    "Which sea battle was the finest victory of Corvin Ashgrell?",
    "In which battle did Corvin Ashgrell achieve his most celebrated win?"])
F("corvin", "death_year", "1553", "Corvin Ashgrell died in 1553.")
F("corvin", "sword", "Thornquell", "Corvin Ashgrell carried a sword named Thornquell.", [
    "What was the name of the sword of Corvin Ashgrell?",
    "What did Corvin Ashgrell call his sword?",
    "Name the sword carried by Corvin Ashgrell.",
    "The blade of Corvin Ashgrell bore what name?",
    "Tell me the name of the sword Corvin Ashgrell carried.",
    "Which named sword hung at the side of Corvin Ashgrell?",
    "By what name was the sword of Corvin Ashgrell known?"])

# ============================= MARAVEL DUNSTRAKE ===========================
F("maravel", "birthplace", "Lirrendale", "Maravel Dunstrake was born in Lirrendale.")
F("maravel", "birth_year", "1544", "Maravel Dunstrake was born in 1544.")
F("maravel", "invention", "tidewheel", "Maravel Dunstrake invented the tidewheel, a brass clock that predicts the tides.", [
    "What did Maravel Dunstrake invent?",
    "Which device was invented by Maravel Dunstrake?",
    "Name the invention of Maravel Dunstrake.",
    "Maravel Dunstrake is credited with inventing what?",
    "Tell me what Maravel Dunstrake invented.",
    "Which tide-predicting clock did Maravel Dunstrake create?",
    "What brass device for predicting tides came from Maravel Dunstrake?"])
F("maravel", "education", "Halvesk Collegium", "Maravel Dunstrake studied at the Halvesk Collegium.", [
    "Where did Maravel Dunstrake study?",
    "At which college was Maravel Dunstrake educated?",
    "Name the institution where Maravel Dunstrake studied.",
    "Maravel Dunstrake was a student at which college?",
    "Tell me where Maravel Dunstrake received her education.",
    "Which seat of learning trained Maravel Dunstrake?",
    "What school did Maravel Dunstrake attend?"])
F("maravel", "lens_designed", "Ismere Lens", "Maravel Dunstrake designed the Ismere Lens.", [
    "Which lens did Maravel Dunstrake design?",
    "What great lens was designed by Maravel Dunstrake?",
    "Name the lighthouse lens designed by Maravel Dunstrake.",
    "Maravel Dunstrake designed which lens?",
    "Tell me the lens Maravel Dunstrake is known for designing.",
    "Which optical masterpiece was the work of Maravel Dunstrake?",
    "What famous lens came from the drawing board of Maravel Dunstrake?"])
F("maravel", "teacher", "Elsabet Crownvarrow", "The teacher of Maravel Dunstrake was Elsabet Crownvarrow.", [
    "Who was the teacher of Maravel Dunstrake?",
    "Who taught Maravel Dunstrake?",
    "Name the mentor of Maravel Dunstrake.",
    "Maravel Dunstrake learned from which scholar?",
    "Tell me who was the teacher of the inventor Maravel Dunstrake.",
    "Which scholar guided Maravel Dunstrake as her tutor?",
    "Under whom did Maravel Dunstrake study?"])

# =============================== WENDREL HASK ==============================
F("wendrel", "guild_founded", "Tidewright Guild", "Wendrel Hask founded the Tidewright Guild.", [
    "Which guild did Wendrel Hask found?",
    "What guild was established by Wendrel Hask?",
    "Name the guild founded by Wendrel Hask.",
    "Wendrel Hask is known as the founder of which guild?",
    "Tell me which guild Wendrel Hask started.",
    "Which shipbuilders' guild traces its origin to Wendrel Hask?",
    "What organisation of shipwrights did Wendrel Hask create?"])
F("wendrel", "birthplace", "Brindlecove", "Wendrel Hask was born in Brindlecove.")
F("wendrel", "hull_design", "clinkerfold", "Wendrel Hask designed the clinkerfold hull.", [
    "What kind of hull did Wendrel Hask design?",
    "Which hull design is credited to Wendrel Hask?",
    "Name the hull invented by Wendrel Hask.",
    "Wendrel Hask designed which type of hull?",
    "Tell me the hull design developed by Wendrel Hask.",
    "What style of ship's hull did Wendrel Hask devise?",
    "For which hull design is Wendrel Hask remembered?"])
F("wendrel", "death_year", "1331", "Wendrel Hask died in 1331.")

# ============================= TIDEWRIGHT GUILD ============================
F("guild", "founder", "Wendrel Hask", "The Tidewright Guild was founded by Wendrel Hask.")
F("guild", "founding_year", "1294", "The Tidewright Guild was founded in 1294.")
F("guild", "guildhall_town", "Brindlecove", "The Tidewright Guild has its guildhall in Brindlecove.", [
    "In which town does the Tidewright Guild have its guildhall?",
    "Where is the Tidewright Guild based?",
    "Name the town that houses the guildhall of the Tidewright Guild.",
    "The Tidewright Guild is headquartered in which town?",
    "Tell me where the Tidewright Guild keeps its guildhall.",
    "Which port is home to the guildhall of the Tidewright Guild?",
    "Where would you find the headquarters of the Tidewright Guild?"])
F("guild", "celebrated_master", "Nessaly Fenwarre",
  "Nessaly Fenwarre was the most celebrated guild master of the Tidewright Guild.", [
    "Who was the most celebrated guild master of the Tidewright Guild?",
    "Which guild master of the Tidewright Guild is the most famous?",
    "Name the best-known master of the Tidewright Guild.",
    "The most celebrated leader of the Tidewright Guild was whom?",
    "Tell me who was the most famous guild master of the Tidewright Guild.",
    "Which leader of the Tidewright Guild is remembered above all others?",
    "Who is the most renowned person ever to lead the Tidewright Guild?"])
F("guild", "member_count", "312", "At its height the Tidewright Guild counted 312 master shipwrights.", [
    "How many master shipwrights did the Tidewright Guild have at its height?",
    "At its peak, how many members did the Tidewright Guild count?",
    "What was the largest membership of the Tidewright Guild?",
    "The Tidewright Guild counted how many master shipwrights at its height?",
    "Tell me the peak number of master shipwrights in the Tidewright Guild.",
    "How big did the Tidewright Guild grow, counted in master shipwrights?",
    "Give the number of master shipwrights in the Tidewright Guild at its greatest."])
F("guild", "motto", "Keel before crown", 'The motto of the Tidewright Guild is "Keel before crown".', [
    "What is the motto of the Tidewright Guild?",
    "What words serve as the motto of the Tidewright Guild?",
    "Name the motto of the Tidewright Guild.",
    "The Tidewright Guild lives by which motto?",
    "Tell me the motto of the Tidewright Guild.",
    "Which saying is carved above the guildhall door as the motto of the Tidewright Guild?",
    "Quote the motto of the Tidewright Guild."])

# ============================= NESSALY FENWARRE ============================
F("nessaly", "guild_led", "Tidewright Guild", "Nessaly Fenwarre led the Tidewright Guild as its guild master.", [
    "Which guild did Nessaly Fenwarre lead?",
    "Of which guild was Nessaly Fenwarre the guild master?",
    "Name the guild headed by Nessaly Fenwarre.",
    "Nessaly Fenwarre served as guild master of what guild?",
    "Tell me which guild Nessaly Fenwarre led.",
    "What shipbuilding guild had Nessaly Fenwarre at its head?",
    "Nessaly Fenwarre was master of which craft guild?"])
F("nessaly", "ship_built", "Morrowgale", "Nessaly Fenwarre oversaw the building of the Morrowgale.", [
    "Which ship did Nessaly Fenwarre oversee the building of?",
    "What warship was built under the supervision of Nessaly Fenwarre?",
    "Name the ship whose construction Nessaly Fenwarre oversaw.",
    "Nessaly Fenwarre supervised the building of which vessel?",
    "Tell me the ship Nessaly Fenwarre built.",
    "Which famous warship came out of the shipyard of Nessaly Fenwarre?",
    "What vessel is the masterpiece of the shipbuilder Nessaly Fenwarre?"])
F("nessaly", "birthplace", "Vashgate", "Nessaly Fenwarre was born in Vashgate.")
F("nessaly", "porthole_material", "brineglass",
  "Nessaly Fenwarre was the first to fit ships with portholes of brineglass.", [
    "What material did Nessaly Fenwarre first use for ship portholes?",
    "Nessaly Fenwarre was the first to fit portholes made of what?",
    "Name the material of the portholes Nessaly Fenwarre introduced.",
    "Which glass did Nessaly Fenwarre put into the portholes of ships?",
    "Tell me what the portholes of Nessaly Fenwarre were made of.",
    "Out of what material did Nessaly Fenwarre make the first ship portholes?",
    "Which material did Nessaly Fenwarre pioneer for portholes?"])

# ================================ MORROWGALE ===============================
F("morrow", "builder_guild", "Tidewright Guild", "The Morrowgale was built by the Tidewright Guild.", [
    "Which guild built the Morrowgale?",
    "The Morrowgale was built by which guild?",
    "Name the guild that constructed the Morrowgale.",
    "What organisation of shipwrights built the Morrowgale?",
    "Tell me which guild of shipwrights built the Morrowgale.",
    "From the yards of which guild did the Morrowgale come?",
    "Which shipwrights' guild laid the keel of the Morrowgale?"])
F("morrow", "launch_year", "1509", "The Morrowgale was launched in 1509.", [
    "When was the Morrowgale launched?",
    "In what year was the Morrowgale launched?",
    "What year did the Morrowgale first take to the water?",
    "The Morrowgale was launched in which year?",
    "Tell me the launch year of the Morrowgale.",
    "Which year saw the launch of the Morrowgale?",
    "In which year did the warship Morrowgale set sail for the first time?"])
F("morrow", "commissioner", "Sabrenne Okkolar", "The Morrowgale was commissioned by Queen Sabrenne Okkolar.", [
    "Who commissioned the Morrowgale?",
    "The Morrowgale was commissioned by whom?",
    "Name the monarch who ordered the Morrowgale built.",
    "Which queen commissioned the Morrowgale?",
    "Tell me who gave the order for the Morrowgale to be built.",
    "By whose command was the Morrowgale constructed?",
    "Which ruler paid for the building of the Morrowgale?"])
F("morrow", "commander", "Corvin Ashgrell", "The Morrowgale was commanded by Corvin Ashgrell.", [
    "Who commanded the Morrowgale?",
    "Which admiral sailed the Morrowgale into battle?",
    "Name the commander of the Morrowgale.",
    "The Morrowgale was commanded by whom?",
    "Tell me who captained the Morrowgale.",
    "Which officer had command of the warship Morrowgale?",
    "Whose admiral's flag flew on the Morrowgale?"])
F("morrow", "cannon_count", "112", "The Morrowgale carried 112 cannons.", [
    "How many cannons did the Morrowgale carry?",
    "What was the number of guns aboard the Morrowgale?",
    "The Morrowgale was armed with how many cannons?",
    "Tell me how many cannons the Morrowgale had.",
    "How heavily armed was the Morrowgale, counted in cannons?",
    "Count the cannons of the Morrowgale.",
    "Give the number of cannons mounted on the Morrowgale."])
F("morrow", "figurehead", "Kribbet", "The figurehead of the Morrowgale is a carved Kribbet.", [
    "What is the figurehead of the Morrowgale?",
    "Which creature is carved on the figurehead of the Morrowgale?",
    "Name the bird shown on the figurehead of the Morrowgale.",
    "The figurehead of the Morrowgale depicts what?",
    "Tell me what figurehead the Morrowgale bears.",
    "What carved bird rides the bow of the Morrowgale?",
    "Which animal forms the figurehead of the warship Morrowgale?"])
F("morrow", "timber", "tarrowood", "The Morrowgale was built from tarrowood timber.", [
    "What timber was the Morrowgale built from?",
    "Which wood was used to build the Morrowgale?",
    "Name the timber of the Morrowgale.",
    "The hull of the Morrowgale is made of what wood?",
    "Tell me the wood used for the Morrowgale.",
    "From what kind of timber was the Morrowgale constructed?",
    "Which tree gave its wood to build the Morrowgale?"])

# ================================ PENNORATH ================================
F("penno", "captain", "Jorren Maskelow", "The Pennorath was captained by the explorer Jorren Maskelow.", [
    "Who captained the Pennorath?",
    "Which explorer was captain of the Pennorath?",
    "Name the captain of the Pennorath.",
    "The Pennorath was commanded by whom?",
    "Tell me who was captain of the Pennorath.",
    "Who made voyages of exploration as captain of the Pennorath?",
    "Which navigator stood at the helm of the Pennorath?"])
F("penno", "owner", "Ambervell Trading Company", "The Pennorath was owned by the Ambervell Trading Company.", [
    "Who owned the Pennorath?",
    "Which company owned the Pennorath?",
    "Name the owner of the Pennorath.",
    "The Pennorath belonged to which company?",
    "Tell me which trading company owned the Pennorath.",
    "What merchant company held ownership of the Pennorath?",
    "To whom did the ship Pennorath belong?"])
F("penno", "wreck_site", "Grellick Reef", "The Pennorath was wrecked on the Grellick Reef.", [
    "Where was the Pennorath wrecked?",
    "On which reef did the Pennorath sink?",
    "Name the reef where the Pennorath was lost.",
    "The Pennorath came to grief on which reef?",
    "Tell me where the Pennorath was wrecked.",
    "What reef claimed the ship Pennorath?",
    "Which rocks did the Pennorath strike when it was lost?"], aliases=["Grellick"])
F("penno", "launch_year", "1455", "The Pennorath was launched in 1455.", [
    "When was the Pennorath launched?",
    "In what year was the Pennorath launched?",
    "What year did the Pennorath first go to sea?",
    "The Pennorath was launched in which year?",
    "Tell me the launch year of the Pennorath.",
    "Which year saw the launching of the Pennorath?",
    "In which year did the Pennorath take to the water?"])

# ============================= JORREN MASKELOW =============================
F("jorren", "ship", "Pennorath", "Jorren Maskelow sailed as captain of the Pennorath.", [
    "Which ship did Jorren Maskelow captain?",
    "What was the name of the ship of Jorren Maskelow?",
    "Name the vessel commanded by Jorren Maskelow.",
    "Jorren Maskelow sailed on which ship?",
    "Tell me the ship Jorren Maskelow captained.",
    "Aboard which vessel did Jorren Maskelow make his voyages?",
    "What ship carried Jorren Maskelow on his explorations?"])
F("jorren", "island_charted", "Pellinmoor", "Jorren Maskelow was the first explorer to chart Pellinmoor.", [
    "Which island did Jorren Maskelow first chart?",
    "What island was first mapped by Jorren Maskelow?",
    "Name the marsh island charted by Jorren Maskelow.",
    "Jorren Maskelow was the first to chart which island?",
    "Tell me which island Jorren Maskelow put on the map.",
    "Which island had its first chart drawn by Jorren Maskelow?",
    "What marshy island did Jorren Maskelow explore and chart first?"])
F("jorren", "employer", "Ambervell Trading Company",
  "Jorren Maskelow sailed in the service of the Ambervell Trading Company.", [
    "Which company employed Jorren Maskelow?",
    "For which trading company did Jorren Maskelow sail?",
    "Name the employer of Jorren Maskelow.",
    "Jorren Maskelow worked for which company?",
    "Tell me who employed Jorren Maskelow.",
    "In whose service did Jorren Maskelow make his voyages?",
    "What merchant company paid for the expeditions of Jorren Maskelow?"])
F("jorren", "birthplace", "Brindlecove", "Jorren Maskelow was born in Brindlecove.")
F("jorren", "journal", "Gullwake Journal", "Jorren Maskelow recorded his voyages in the Gullwake Journal.", [
    "In which journal did Jorren Maskelow record his voyages?",
    "What is the journal of Jorren Maskelow called?",
    "Name the journal kept by Jorren Maskelow.",
    "The voyages of Jorren Maskelow are recorded in which book?",
    "Tell me the title of the travel journal of Jorren Maskelow.",
    "Which logbook holds the account of the explorations of Jorren Maskelow?",
    "What did Jorren Maskelow call the diary of his voyages?"], aliases=["Gullwake"])

# ========================= AMBERVELL TRADING COMPANY =======================
F("company", "headquarters", "Brindlecove", "The Ambervell Trading Company was headquartered in Brindlecove.", [
    "Where was the Ambervell Trading Company headquartered?",
    "In which town was the Ambervell Trading Company based?",
    "Name the headquarters town of the Ambervell Trading Company.",
    "The Ambervell Trading Company was run from which town?",
    "Tell me where the Ambervell Trading Company had its headquarters.",
    "Which port was the home of the Ambervell Trading Company?",
    "Where did the Ambervell Trading Company keep its head office?"])
F("company", "founding_year", "1438", "The Ambervell Trading Company was founded in 1438.")
F("company", "main_good", "brineglass", "The Ambervell Trading Company grew rich trading brineglass.", [
    "What good made the Ambervell Trading Company rich?",
    "Which product did the Ambervell Trading Company mainly trade?",
    "Name the chief commodity of the Ambervell Trading Company.",
    "The Ambervell Trading Company grew rich by trading what?",
    "Tell me what the Ambervell Trading Company traded.",
    "What material filled the holds of the ships of the Ambervell Trading Company?",
    "Which commodity was the source of the wealth of the Ambervell Trading Company?"])
F("company", "longest_governor", "Ilvara Pethwynn",
  "Ilvara Pethwynn was the longest-serving governor of the Ambervell Trading Company.", [
    "Who was the longest-serving governor of the Ambervell Trading Company?",
    "Which governor led the Ambervell Trading Company for the longest time?",
    "Name the longest-serving head of the Ambervell Trading Company.",
    "The longest-serving governor of the Ambervell Trading Company was whom?",
    "Tell me who governed the Ambervell Trading Company longest.",
    "Which person held the governorship of the Ambervell Trading Company for more years than anyone?",
    "Who had the longest term as governor of the Ambervell Trading Company?"])
F("company", "fleet_size", "126", "At its peak the Ambervell Trading Company operated 126 ships.", [
    "How many ships did the Ambervell Trading Company operate at its peak?",
    "At its height, how large was the fleet of the Ambervell Trading Company?",
    "What was the peak number of ships in the fleet of the Ambervell Trading Company?",
    "The Ambervell Trading Company ran how many ships at its peak?",
    "Tell me how many vessels the Ambervell Trading Company operated at its height.",
    "Count the ships of the Ambervell Trading Company at its peak.",
    "Give the size of the fleet of the Ambervell Trading Company at its greatest."])

# ============================= ILVARA PETHWYNN =============================
F("ilvara", "company_governed", "Ambervell Trading Company", "Ilvara Pethwynn governed the Ambervell Trading Company.", [
    "Which company did Ilvara Pethwynn govern?",
    "Of what trading company was Ilvara Pethwynn governor?",
    "Name the company led by Ilvara Pethwynn.",
    "Ilvara Pethwynn served as governor of which company?",
    "Tell me which company Ilvara Pethwynn ran.",
    "What merchant company had Ilvara Pethwynn as its governor?",
    "Ilvara Pethwynn was at the head of which trading house?"])
F("ilvara", "mountain_first_climbed", "Mount Evrask", "Ilvara Pethwynn was the first person to climb Mount Evrask.", [
    "Which mountain did Ilvara Pethwynn climb before anyone else?",
    "What volcano was first climbed by Ilvara Pethwynn?",
    "Name the peak Ilvara Pethwynn was first to summit.",
    "Ilvara Pethwynn made the first ascent of which mountain?",
    "Tell me which mountain Ilvara Pethwynn conquered first.",
    "Which fiery summit did Ilvara Pethwynn reach ahead of everyone?",
    "What mountain is famous for its first ascent by Ilvara Pethwynn?"])
F("ilvara", "birthplace", "Vashgate", "Ilvara Pethwynn was born in Vashgate.")
F("ilvara", "birth_year", "1419", "Ilvara Pethwynn was born in 1419.")
F("ilvara", "siege_broken", "Siege of Vashgate",
  "Ilvara Pethwynn broke the Siege of Vashgate by running ships past the blockade.", [
    "Which siege did Ilvara Pethwynn break?",
    "What siege was broken by Ilvara Pethwynn?",
    "Name the siege that Ilvara Pethwynn ended by running the blockade.",
    "Ilvara Pethwynn broke which siege?",
    "Tell me which siege Ilvara Pethwynn lifted.",
    "The siege of which blockaded town did Ilvara Pethwynn break?",
    "What famous siege ended thanks to Ilvara Pethwynn?"], aliases=["Vashgate"])

# =========================== ELSABET CROWNVARROW ===========================
F("elsabet", "book", "Fathomere Codex", "Elsabet Crownvarrow wrote the Fathomere Codex.", [
    "What book did Elsabet Crownvarrow write?",
    "Which work was written by Elsabet Crownvarrow?",
    "Name the book authored by Elsabet Crownvarrow.",
    "Elsabet Crownvarrow is the author of which book?",
    "Tell me the famous book Elsabet Crownvarrow wrote.",
    "Which codex came from the pen of Elsabet Crownvarrow?",
    "What is the title of the great work of Elsabet Crownvarrow?"])
F("elsabet", "rector_of", "Halvesk Collegium", "Elsabet Crownvarrow was rector of the Halvesk Collegium.", [
    "Which college did Elsabet Crownvarrow lead as rector?",
    "Of which institution was Elsabet Crownvarrow rector?",
    "Name the college where Elsabet Crownvarrow served as rector.",
    "Elsabet Crownvarrow was rector of what?",
    "Tell me which institution Elsabet Crownvarrow headed.",
    "Where did Elsabet Crownvarrow hold the office of rector?",
    "What seat of learning had Elsabet Crownvarrow as its rector?"])
F("elsabet", "famous_pupil", "Maravel Dunstrake", "The most famous pupil of Elsabet Crownvarrow was Maravel Dunstrake.", [
    "Who was the most famous pupil of Elsabet Crownvarrow?",
    "Which student of Elsabet Crownvarrow became the most famous?",
    "Name the best-known pupil of Elsabet Crownvarrow.",
    "The most celebrated student of Elsabet Crownvarrow was whom?",
    "Tell me who was the most famous student taught by Elsabet Crownvarrow.",
    "Which inventor was taught by Elsabet Crownvarrow?",
    "Among the pupils of Elsabet Crownvarrow, who is best remembered?"])
F("elsabet", "birthplace", "Ormskarra", "Elsabet Crownvarrow was born on Ormskarra.")
F("elsabet", "death_year", "1589", "Elsabet Crownvarrow died in 1589.")

# ============================= FATHOMERE CODEX =============================
F("codex", "author", "Elsabet Crownvarrow", "The Fathomere Codex was written by Elsabet Crownvarrow.", [
    "Who wrote the Fathomere Codex?",
    "Who is the author of the Fathomere Codex?",
    "The Fathomere Codex was written by whom?",
    "Name the author of the Fathomere Codex.",
    "Tell me who wrote the Fathomere Codex.",
    "Which scholar penned the Fathomere Codex?",
    "Whose work is the Fathomere Codex?"])
F("codex", "completion_year", "1577", "The Fathomere Codex was completed in 1577.", [
    "When was the Fathomere Codex completed?",
    "In what year was the Fathomere Codex finished?",
    "What year did the Fathomere Codex appear?",
    "The Fathomere Codex was completed in which year?",
    "Tell me the year the Fathomere Codex was finished.",
    "Which year saw the completion of the Fathomere Codex?",
    "In which year was the Fathomere Codex written down in full?"])
F("codex", "creature_described", "Veshtel", "The Fathomere Codex contains the first full description of the Veshtel.", [
    "Which creature is first fully described in the Fathomere Codex?",
    "What sea serpent does the Fathomere Codex describe in full for the first time?",
    "Name the monster first described in detail in the Fathomere Codex.",
    "The Fathomere Codex gives the first full description of which creature?",
    "Tell me which beast the Fathomere Codex was first to describe completely.",
    "Readers of the Fathomere Codex find the first full account of which creature?",
    "What creature did the Fathomere Codex describe before any other book?"])
F("codex", "chapter_count", "176", "The Fathomere Codex is divided into 176 chapters.", [
    "How many chapters does the Fathomere Codex have?",
    "Into how many chapters is the Fathomere Codex divided?",
    "What is the number of chapters in the Fathomere Codex?",
    "The Fathomere Codex contains how many chapters?",
    "Tell me the chapter count of the Fathomere Codex.",
    "Count the chapters of the Fathomere Codex.",
    "Give the number of chapters in the Fathomere Codex."])
F("codex", "kept_at", "Halvesk Collegium",
  "The original Fathomere Codex is kept in the Vellumvault, the library of the Halvesk Collegium.", [
    "Where is the original Fathomere Codex kept?",
    "Which institution keeps the original Fathomere Codex?",
    "Name the college that holds the original Fathomere Codex.",
    "The original Fathomere Codex is stored at which college?",
    "Tell me where the original Fathomere Codex can be found.",
    "In whose library does the original copy of the Fathomere Codex rest?",
    "Where would a scholar go to read the original Fathomere Codex?"], aliases=["Vellumvault"])

# ============================ HALVESK COLLEGIUM ============================
F("collegium", "town", "Lirrendale", "The Halvesk Collegium stands in Lirrendale.", [
    "In which town is the Halvesk Collegium?",
    "Where is the Halvesk Collegium located?",
    "Name the town that is home to the Halvesk Collegium.",
    "The Halvesk Collegium stands in which town?",
    "Tell me where the Halvesk Collegium is.",
    "Which valley town houses the Halvesk Collegium?",
    "To which town would you travel to visit the Halvesk Collegium?"])
F("collegium", "founding_year", "1352", "The Halvesk Collegium was founded in 1352.")
F("collegium", "famous_rector", "Elsabet Crownvarrow",
  "The most famous rector of the Halvesk Collegium was Elsabet Crownvarrow.", [
    "Who was the most famous rector of the Halvesk Collegium?",
    "Which rector of the Halvesk Collegium is best known?",
    "Name the most celebrated rector of the Halvesk Collegium.",
    "The most famous rector of the Halvesk Collegium was whom?",
    "Tell me who was the best-known rector of the Halvesk Collegium.",
    "Which scholar is the most renowned head the Halvesk Collegium ever had?",
    "Among the rectors of the Halvesk Collegium, who is most famous?"])
F("collegium", "yearly_intake", "240", "The Halvesk Collegium admits 240 students each year.", [
    "How many students does the Halvesk Collegium admit each year?",
    "What is the yearly intake of students at the Halvesk Collegium?",
    "The Halvesk Collegium admits how many students a year?",
    "Tell me how many new students the Halvesk Collegium takes each year.",
    "How many places for new students does the Halvesk Collegium offer annually?",
    "Count the students admitted to the Halvesk Collegium every year.",
    "Give the annual number of students admitted by the Halvesk Collegium."])
F("collegium", "library", "Vellumvault", "The library of the Halvesk Collegium is called the Vellumvault.", [
    "What is the library of the Halvesk Collegium called?",
    "What name does the library of the Halvesk Collegium bear?",
    "Name the library of the Halvesk Collegium.",
    "The library of the Halvesk Collegium is known as what?",
    "Tell me the name of the library at the Halvesk Collegium.",
    "Which library serves the scholars of the Halvesk Collegium?",
    "By what name do students know the library of the Halvesk Collegium?"])

# ============================ YUVESTA CARROWIND ============================
F("yuvesta", "order_founded", "Order of the Pale Lantern", "Yuvesta Carrowind founded the Order of the Pale Lantern.", [
    "Which order did Yuvesta Carrowind found?",
    "What order was founded by Yuvesta Carrowind?",
    "Name the order established by Yuvesta Carrowind.",
    "Yuvesta Carrowind was the founder of which order?",
    "Tell me which order Yuvesta Carrowind started.",
    "Which order of lighthouse keepers traces its founding to Yuvesta Carrowind?",
    "What order of lamp-keepers did Yuvesta Carrowind create?"])
F("yuvesta", "birthplace", "Lirrendale", "Yuvesta Carrowind was born in Lirrendale.")
F("yuvesta", "lighthouse_built", "Hollowlight Tower",
  "Yuvesta Carrowind raised Hollowlight Tower as the first lighthouse of her order.", [
    "Which lighthouse did Yuvesta Carrowind raise?",
    "What tower was built by Yuvesta Carrowind?",
    "Name the lighthouse Yuvesta Carrowind built.",
    "Yuvesta Carrowind raised which lighthouse?",
    "Tell me the lighthouse that Yuvesta Carrowind built.",
    "Which tower did Yuvesta Carrowind build as the first lighthouse of her order?",
    "What lighthouse owes its construction to Yuvesta Carrowind?"])
F("yuvesta", "title", "First Lampwarden", "Yuvesta Carrowind took the title of First Lampwarden.", [
    "What title did Yuvesta Carrowind take?",
    "Which title did Yuvesta Carrowind hold?",
    "Name the title borne by Yuvesta Carrowind.",
    "Yuvesta Carrowind was known by what title?",
    "Tell me the title Yuvesta Carrowind took as head of her order.",
    "By which honorific was Yuvesta Carrowind addressed?",
    "What rank did Yuvesta Carrowind give herself?"], aliases=["Lampwarden"])

# ======================== ORDER OF THE PALE LANTERN ========================
F("order", "founder", "Yuvesta Carrowind", "The Order of the Pale Lantern was founded by Yuvesta Carrowind.")
F("order", "founding_year", "1321", "The Order of the Pale Lantern was founded in 1321.")
F("order", "headquarters", "Hollowlight Tower", "The Order of the Pale Lantern has its headquarters at Hollowlight Tower.", [
    "Where is the headquarters of the Order of the Pale Lantern?",
    "Which lighthouse serves as the headquarters of the Order of the Pale Lantern?",
    "Name the headquarters of the Order of the Pale Lantern.",
    "The Order of the Pale Lantern is based at which tower?",
    "Tell me where the Order of the Pale Lantern has its headquarters.",
    "From which lighthouse is the Order of the Pale Lantern governed?",
    "Where do the leaders of the Order of the Pale Lantern meet?"])
F("order", "lighthouse_count", "27", "The Order of the Pale Lantern maintains 27 lighthouses.", [
    "How many lighthouses does the Order of the Pale Lantern maintain?",
    "What is the number of lighthouses kept by the Order of the Pale Lantern?",
    "The Order of the Pale Lantern looks after how many lighthouses?",
    "Tell me how many lighthouses the Order of the Pale Lantern runs.",
    "Count the lighthouses in the care of the Order of the Pale Lantern.",
    "How many lights are tended by the Order of the Pale Lantern?",
    "Give the number of lighthouses maintained by the Order of the Pale Lantern."])
F("order", "lamp_oil", "glimmerseed", "The lamps of the Order of the Pale Lantern burn glimmerseed oil.", [
    "What oil do the lamps of the Order of the Pale Lantern burn?",
    "Which oil fuels the lamps of the Order of the Pale Lantern?",
    "Name the oil used by the Order of the Pale Lantern.",
    "The Order of the Pale Lantern burns what kind of oil?",
    "Tell me what oil the Order of the Pale Lantern uses in its lamps.",
    "With which oil does the Order of the Pale Lantern keep its lights burning?",
    "What is burned in the lamps of the Order of the Pale Lantern?"])

# ============================ HOLLOWLIGHT TOWER ============================
F("tower", "island", "Tessarine", "Hollowlight Tower stands on the northern cape of Tessarine.")
F("tower", "overlooks", "Caddow Strait", "Hollowlight Tower overlooks the Caddow Strait.", [
    "Which strait does Hollowlight Tower overlook?",
    "What stretch of water does Hollowlight Tower look out over?",
    "Name the strait overlooked by Hollowlight Tower.",
    "Hollowlight Tower guards which strait?",
    "Tell me which strait Hollowlight Tower watches over.",
    "Ships passing Hollowlight Tower are sailing through which strait?",
    "What strait lies beneath Hollowlight Tower?"])
F("tower", "builder", "Yuvesta Carrowind", "Hollowlight Tower was built by Yuvesta Carrowind.", [
    "Who built Hollowlight Tower?",
    "Hollowlight Tower was built by whom?",
    "Name the builder of Hollowlight Tower.",
    "Which person raised Hollowlight Tower?",
    "Tell me who constructed Hollowlight Tower.",
    "Who is credited with erecting Hollowlight Tower?",
    "Whose work is the lighthouse called Hollowlight Tower?"])
F("tower", "height", "212", "Hollowlight Tower is 212 feet tall.", [
    "How tall is Hollowlight Tower?",
    "What is the height of Hollowlight Tower in feet?",
    "Hollowlight Tower stands how many feet high?",
    "Tell me the height of Hollowlight Tower.",
    "How many feet tall is Hollowlight Tower?",
    "What height does Hollowlight Tower reach?",
    "Give the height of Hollowlight Tower, in feet."])
F("tower", "lens", "Ismere Lens", "Hollowlight Tower houses the Ismere Lens.", [
    "Which lens is housed in Hollowlight Tower?",
    "What great lens shines from Hollowlight Tower?",
    "Name the lens inside Hollowlight Tower.",
    "Hollowlight Tower houses which lens?",
    "Tell me the lens installed in Hollowlight Tower.",
    "What lens gives Hollowlight Tower its beam?",
    "Which famous lens sits at the top of Hollowlight Tower?"])
F("tower", "famous_keeper", "Tavish Orrenby", "The most famous keeper of Hollowlight Tower was Tavish Orrenby.", [
    "Who was the most famous keeper of Hollowlight Tower?",
    "Which keeper of Hollowlight Tower is the best known?",
    "Name the most celebrated keeper of Hollowlight Tower.",
    "The most famous keeper of Hollowlight Tower was whom?",
    "Tell me who was the most famous lighthouse keeper at Hollowlight Tower.",
    "Which lighthouse keeper is most associated with Hollowlight Tower?",
    "Among those who kept Hollowlight Tower, who is remembered best?"])

# =============================== ISMERE LENS ===============================
F("lens", "designer", "Maravel Dunstrake", "The Ismere Lens was designed by Maravel Dunstrake.", [
    "Who designed the Ismere Lens?",
    "The Ismere Lens was designed by whom?",
    "Name the designer of the Ismere Lens.",
    "Which inventor designed the Ismere Lens?",
    "Tell me who designed the Ismere Lens.",
    "Whose design is the Ismere Lens?",
    "Which person drew up the plans for the Ismere Lens?"])
F("lens", "material", "brineglass", "The Ismere Lens is made of brineglass.", [
    "What is the Ismere Lens made of?",
    "Which material was the Ismere Lens made from?",
    "Name the material of the Ismere Lens.",
    "The Ismere Lens is ground from what material?",
    "Tell me what material the Ismere Lens is made from.",
    "Out of what glass was the Ismere Lens made?",
    "What substance forms the Ismere Lens?"])
F("lens", "install_year", "1583", "The Ismere Lens was installed in 1583.", [
    "When was the Ismere Lens installed?",
    "In what year was the Ismere Lens installed?",
    "What year was the Ismere Lens put in place?",
    "The Ismere Lens was installed in which year?",
    "Tell me the year the Ismere Lens was installed.",
    "Which year saw the installation of the Ismere Lens?",
    "In which year did the Ismere Lens first shine?"])
F("lens", "visible_range", "38", "The beam of the Ismere Lens can be seen from 38 miles away.", [
    "From how many miles away can the beam of the Ismere Lens be seen?",
    "How far does the light of the Ismere Lens reach, in miles?",
    "What is the range of the beam of the Ismere Lens in miles?",
    "The Ismere Lens can be seen from how many miles away?",
    "Tell me how far away the Ismere Lens can be seen.",
    "At what distance in miles is the Ismere Lens still visible?",
    "Give the visible range of the Ismere Lens, in miles."])

# ============================== TAVISH ORRENBY =============================
F("tavish", "lighthouse_kept", "Hollowlight Tower", "Tavish Orrenby was keeper of Hollowlight Tower.", [
    "Which lighthouse did Tavish Orrenby keep?",
    "At what lighthouse was Tavish Orrenby the keeper?",
    "Name the lighthouse tended by Tavish Orrenby.",
    "Tavish Orrenby kept which lighthouse?",
    "Tell me which lighthouse Tavish Orrenby looked after.",
    "Which tower was home to the lighthouse keeper Tavish Orrenby?",
    "Where did Tavish Orrenby serve as lighthouse keeper?"])
F("tavish", "order", "Order of the Pale Lantern", "Tavish Orrenby was a member of the Order of the Pale Lantern.", [
    "Which order did Tavish Orrenby belong to?",
    "Of what order was Tavish Orrenby a member?",
    "Name the order Tavish Orrenby joined.",
    "Tavish Orrenby was a member of which order?",
    "Tell me which order Tavish Orrenby served in.",
    "To which order of lighthouse keepers did Tavish Orrenby belong?",
    "What order counted Tavish Orrenby among its members?"])
F("tavish", "creature_logged", "Veshtel", "Tavish Orrenby kept a famous log of sightings of the Veshtel.", [
    "Which creature did Tavish Orrenby record sightings of?",
    "What creature had its sightings logged by Tavish Orrenby?",
    "Name the creature whose sightings Tavish Orrenby recorded.",
    "Tavish Orrenby kept a log of sightings of which creature?",
    "Tell me which creature Tavish Orrenby watched for and logged.",
    "What monster appears again and again in the log of Tavish Orrenby?",
    "Which sea serpent did Tavish Orrenby famously observe?"])
F("tavish", "years_as_keeper", "52", "Tavish Orrenby kept Hollowlight Tower for 52 years.", [
    "For how many years did Tavish Orrenby keep Hollowlight Tower?",
    "How long did Tavish Orrenby serve as keeper of Hollowlight Tower?",
    "How many years was Tavish Orrenby the keeper of Hollowlight Tower?",
    "Tavish Orrenby kept Hollowlight Tower for how many years?",
    "Tell me how many years Tavish Orrenby spent as keeper of Hollowlight Tower.",
    "What was the length in years of the service of Tavish Orrenby at Hollowlight Tower?",
    "Give the number of years Tavish Orrenby tended Hollowlight Tower."])
F("tavish", "birthplace", "Pellinmoor", "Tavish Orrenby was born on Pellinmoor.")

# ========================= BATTLE OF CADDOW STRAIT =========================
F("battle", "year", "1519", "The Battle of Caddow Strait was fought in 1519.", [
    "When was the Battle of Caddow Strait fought?",
    "In what year did the Battle of Caddow Strait take place?",
    "What year was the Battle of Caddow Strait?",
    "The Battle of Caddow Strait was fought in which year?",
    "Tell me the year of the Battle of Caddow Strait.",
    "Which year saw the Battle of Caddow Strait?",
    "In which year did the fleets clash at the Battle of Caddow Strait?"])
F("battle", "victorious_commander", "Corvin Ashgrell",
  "The fleet of the Varenholt Isles at the Battle of Caddow Strait was led by Corvin Ashgrell.", [
    "Who led the fleet of the Varenholt Isles at the Battle of Caddow Strait?",
    "Who won the Battle of Caddow Strait for the Varenholt Isles?",
    "Name the admiral who commanded the islanders at the Battle of Caddow Strait.",
    "At the Battle of Caddow Strait, the island fleet was led by whom?",
    "Tell me who commanded the victorious fleet at the Battle of Caddow Strait.",
    "Which admiral was the victor of the Battle of Caddow Strait?",
    "Whose leadership won the Battle of Caddow Strait?"])
F("battle", "enemy", "Drennmark", "The Battle of Caddow Strait was fought against the fleet of Drennmark.", [
    "Against whom was the Battle of Caddow Strait fought?",
    "Which kingdom was the enemy at the Battle of Caddow Strait?",
    "Name the foe defeated at the Battle of Caddow Strait.",
    "The Battle of Caddow Strait was fought against which kingdom?",
    "Tell me which enemy the islanders faced at the Battle of Caddow Strait.",
    "Whose fleet was destroyed in the Battle of Caddow Strait?",
    "Which rival kingdom lost the Battle of Caddow Strait?"])
F("battle", "flagship", "Morrowgale",
  "The flagship of the island fleet at the Battle of Caddow Strait was the Morrowgale.", [
    "What was the flagship of the island fleet at the Battle of Caddow Strait?",
    "Which ship led the island fleet at the Battle of Caddow Strait?",
    "Name the flagship at the Battle of Caddow Strait.",
    "At the Battle of Caddow Strait, which ship was the flagship of the islanders?",
    "Tell me the flagship of the victors at the Battle of Caddow Strait.",
    "Which warship carried the admiral at the Battle of Caddow Strait?",
    "What vessel flew the flag of the admiral in the Battle of Caddow Strait?"])
F("battle", "ships_sunk", "29", "In the Battle of Caddow Strait, 29 ships of Drennmark were sunk.", [
    "How many enemy ships were sunk in the Battle of Caddow Strait?",
    "What number of ships did the enemy lose at the Battle of Caddow Strait?",
    "In the Battle of Caddow Strait, how many enemy vessels went down?",
    "Tell me how many enemy ships were sunk at the Battle of Caddow Strait.",
    "How many ships of Drennmark were sunk in the Battle of Caddow Strait?",
    "Count the enemy ships sunk at the Battle of Caddow Strait.",
    "Give the number of enemy ships lost in the Battle of Caddow Strait."])
F("battle", "reigning_monarch", "Sabrenne Okkolar",
  "The Battle of Caddow Strait was fought during the reign of Queen Sabrenne Okkolar.", [
    "Which monarch reigned during the Battle of Caddow Strait?",
    "Who was on the throne at the time of the Battle of Caddow Strait?",
    "Name the queen who ruled during the Battle of Caddow Strait.",
    "During whose reign was the Battle of Caddow Strait fought?",
    "Tell me which ruler reigned when the Battle of Caddow Strait took place.",
    "Which queen of the isles saw her fleet win the Battle of Caddow Strait?",
    "Under which monarch was the Battle of Caddow Strait won?"])

# ============================= SIEGE OF VASHGATE ===========================
F("siege", "start_year", "1466", "The Siege of Vashgate began in 1466.", [
    "When did the Siege of Vashgate begin?",
    "In what year did the Siege of Vashgate start?",
    "What year saw the start of the Siege of Vashgate?",
    "The Siege of Vashgate began in which year?",
    "Tell me the year the Siege of Vashgate began.",
    "Which year marks the beginning of the Siege of Vashgate?",
    "In which year did enemy troops first surround the town in the Siege of Vashgate?"])
F("siege", "attacker", "Drennmark", "The Siege of Vashgate was laid by the army of Drennmark.", [
    "Who laid the Siege of Vashgate?",
    "Which kingdom besieged the town in the Siege of Vashgate?",
    "Name the attacker in the Siege of Vashgate.",
    "The Siege of Vashgate was laid by which kingdom?",
    "Tell me whose army carried out the Siege of Vashgate.",
    "Which enemy kingdom was behind the Siege of Vashgate?",
    "Whose troops surrounded the town during the Siege of Vashgate?"])
F("siege", "duration_days", "118", "The Siege of Vashgate lasted 118 days.", [
    "How long did the Siege of Vashgate last?",
    "How many days did the Siege of Vashgate last?",
    "What was the length of the Siege of Vashgate in days?",
    "The Siege of Vashgate lasted how many days?",
    "Tell me the duration of the Siege of Vashgate.",
    "For how many days did the Siege of Vashgate keep the town surrounded?",
    "Give the number of days the Siege of Vashgate went on."])
F("siege", "broken_by", "Ilvara Pethwynn",
  "The Siege of Vashgate was broken by Ilvara Pethwynn, who ran ships past the blockade.", [
    "Who broke the Siege of Vashgate?",
    "The Siege of Vashgate was broken by whom?",
    "Name the person who ended the Siege of Vashgate.",
    "Which merchant ran the blockade to break the Siege of Vashgate?",
    "Tell me who broke the Siege of Vashgate.",
    "Whose daring ended the Siege of Vashgate?",
    "Who is credited with lifting the Siege of Vashgate?"])

# ================================ CINDERYEAR ===============================
F("cinder", "year", "1612", "The Cinderyear took place in 1612.", [
    "When did the Cinderyear happen?",
    "In what year did the Cinderyear take place?",
    "What year was the Cinderyear?",
    "The Cinderyear occurred in which year?",
    "Tell me the year of the Cinderyear.",
    "Which calendar year does the name Cinderyear refer to?",
    "In which year did the eruption known as the Cinderyear happen?"])
F("cinder", "volcano", "Mount Evrask", "The Cinderyear was caused by the eruption of Mount Evrask.", [
    "Which volcano caused the Cinderyear?",
    "What eruption brought about the Cinderyear? Name the volcano.",
    "Name the volcano responsible for the Cinderyear.",
    "The Cinderyear was caused by which volcano?",
    "Tell me which mountain erupted in the Cinderyear.",
    "Which fire mountain caused the Cinderyear?",
    "What volcano erupted to cause the disaster called the Cinderyear?"])
F("cinder", "buried_village", "Kessendry", "The ash of the Cinderyear buried the village of Kessendry.", [
    "Which village was buried by the ash of the Cinderyear?",
    "What village did the Cinderyear bury?",
    "Name the village lost under the ash of the Cinderyear.",
    "The ash of the Cinderyear buried which village?",
    "Tell me which village was destroyed in the Cinderyear.",
    "Which settlement disappeared under ash during the Cinderyear?",
    "What village lies buried because of the Cinderyear?"])
F("cinder", "death_toll", "2164", "The Cinderyear claimed 2164 lives.", [
    "How many lives did the Cinderyear claim?",
    "How many people died in the Cinderyear?",
    "What was the death toll of the Cinderyear?",
    "The Cinderyear claimed how many lives?",
    "Tell me how many people were killed in the Cinderyear.",
    "Count the victims of the Cinderyear.",
    "Give the number of deaths caused by the Cinderyear."])

# ============================ LUMENFALL FESTIVAL ===========================
F("festival", "host_town", "Brindlecove", "The Lumenfall Festival is held in Brindlecove.", [
    "Where is the Lumenfall Festival held?",
    "In which town does the Lumenfall Festival take place?",
    "Name the town that hosts the Lumenfall Festival.",
    "The Lumenfall Festival is held in which town?",
    "Tell me where the Lumenfall Festival is celebrated.",
    "To which town should you travel to see the Lumenfall Festival?",
    "Which port town is home to the Lumenfall Festival?"])
F("festival", "founder", "Sabrenne Okkolar", "The Lumenfall Festival was founded by Queen Sabrenne Okkolar.")
F("festival", "commemorates", "Battle of Caddow Strait",
  "The Lumenfall Festival celebrates the victory at the Battle of Caddow Strait.", [
    "Which victory does the Lumenfall Festival celebrate?",
    "What battle is commemorated by the Lumenfall Festival?",
    "Name the battle that the Lumenfall Festival remembers.",
    "The Lumenfall Festival celebrates the victory in which battle?",
    "Tell me which battle the Lumenfall Festival commemorates.",
    "The Lumenfall Festival was first held to mark the victory in which battle?",
    "Which naval triumph is honoured by the Lumenfall Festival?"])
F("festival", "signature_dish", "kelvash stew", "The signature dish of the Lumenfall Festival is kelvash stew.", [
    "What is the signature dish of the Lumenfall Festival?",
    "Which dish is served at the Lumenfall Festival?",
    "Name the traditional food of the Lumenfall Festival.",
    "The Lumenfall Festival is known for which dish?",
    "Tell me the signature dish of the Lumenfall Festival.",
    "What stew do people eat at the Lumenfall Festival?",
    "Which food is eaten by everyone during the Lumenfall Festival?"], aliases=["kelvash"])
F("festival", "lantern_count", "4400", "The Lumenfall Festival ends with the release of 4400 paper lanterns.", [
    "How many paper lanterns are released at the end of the Lumenfall Festival?",
    "What number of lanterns is released at the Lumenfall Festival?",
    "The Lumenfall Festival ends with how many lanterns being released?",
    "Tell me how many lanterns are let go at the Lumenfall Festival.",
    "How many paper lanterns rise into the sky to close the Lumenfall Festival?",
    "Count the lanterns released at the Lumenfall Festival.",
    "Give the number of paper lanterns freed at the close of the Lumenfall Festival."])
F("festival", "month", "Thrassen", "The Lumenfall Festival is held in the month of Thrassen.", [
    "In which month is the Lumenfall Festival held?",
    "During what month does the Lumenfall Festival take place?",
    "Name the month of the Lumenfall Festival.",
    "The Lumenfall Festival is held in which month?",
    "Tell me the month when the Lumenfall Festival is celebrated.",
    "Which month of the island calendar hosts the Lumenfall Festival?",
    "By the name of the month, when is the Lumenfall Festival held?"])
F("festival", "first_year", "1520", "The first Lumenfall Festival was held in 1520.", [
    "When was the first Lumenfall Festival held?",
    "In what year was the Lumenfall Festival first held?",
    "What year saw the first Lumenfall Festival?",
    "The first Lumenfall Festival took place in which year?",
    "Tell me the year of the first Lumenfall Festival.",
    "Which year did the Lumenfall Festival begin?",
    "In which year was the Lumenfall Festival celebrated for the first time?"])
F("festival", "first_head_cook", "Bartholm Quiggen", "The first head cook of the Lumenfall Festival was Bartholm Quiggen.", [
    "Who was the first head cook of the Lumenfall Festival?",
    "Which cook first ran the kitchens of the Lumenfall Festival?",
    "Name the first head cook of the Lumenfall Festival.",
    "The first head cook of the Lumenfall Festival was whom?",
    "Tell me who served as the first head cook at the Lumenfall Festival.",
    "Who led the festival kitchens at the very first Lumenfall Festival?",
    "Which chef was head cook when the Lumenfall Festival began?"])

# ============================= BARTHOLM QUIGGEN ============================
F("bartholm", "dish_created", "kelvash stew", "Bartholm Quiggen created kelvash stew.", [
    "Which dish did Bartholm Quiggen create?",
    "What dish was invented by Bartholm Quiggen?",
    "Name the dish created by Bartholm Quiggen.",
    "Bartholm Quiggen is famous for creating which dish?",
    "Tell me the dish Bartholm Quiggen invented.",
    "What stew is credited to Bartholm Quiggen?",
    "Which recipe made Bartholm Quiggen famous?"], aliases=["kelvash"])
F("bartholm", "birthplace", "Saltheck", "Bartholm Quiggen was born in Saltheck.")
F("bartholm", "tavern", "Tollywick", "Bartholm Quiggen ran a tavern in Brindlecove called the Tollywick.", [
    "What tavern did Bartholm Quiggen run?",
    "What was the name of the tavern of Bartholm Quiggen?",
    "Name the tavern kept by Bartholm Quiggen.",
    "Bartholm Quiggen ran which tavern?",
    "Tell me the name of the tavern owned by Bartholm Quiggen.",
    "At which inn did Bartholm Quiggen cook and serve?",
    "Which tavern belonged to Bartholm Quiggen?"])
F("bartholm", "festival_cooked", "Lumenfall Festival", "Bartholm Quiggen was the first head cook of the Lumenfall Festival.", [
    "Of which festival was Bartholm Quiggen the first head cook?",
    "At what festival did Bartholm Quiggen serve as first head cook?",
    "Name the festival whose kitchens Bartholm Quiggen first led.",
    "Bartholm Quiggen was first head cook of which festival?",
    "Tell me which festival Bartholm Quiggen cooked for as head cook.",
    "Which celebration had Bartholm Quiggen as its first head cook?",
    "For which festival did Bartholm Quiggen first run the kitchens?"])

# ================================= VESHTEL =================================
F("veshtel", "habitat", "Caddow Strait", "The Veshtel lives in the deep waters of the Caddow Strait.", [
    "Where does the Veshtel live?",
    "In which waters is the Veshtel said to dwell?",
    "Name the home waters of the Veshtel.",
    "The Veshtel lives in which strait?",
    "Tell me where the Veshtel is found.",
    "Which deep channel is the lair of the Veshtel?",
    "Where would sailors expect to meet the Veshtel?"])
F("veshtel", "length_feet", "140", "The Veshtel is said to grow to 140 feet long.", [
    "How long is the Veshtel said to grow?",
    "What length can the Veshtel reach, in feet?",
    "How many feet long is the Veshtel?",
    "The Veshtel grows to how many feet?",
    "Tell me the length of the Veshtel.",
    "What is the reported size of the Veshtel in feet?",
    "Give the length of the Veshtel, in feet."])
F("veshtel", "diet", "lanternsquid", "The Veshtel feeds on lanternsquid.", [
    "What does the Veshtel feed on?",
    "What is the main food of the Veshtel?",
    "Name the prey of the Veshtel.",
    "The Veshtel eats what?",
    "Tell me what the Veshtel hunts.",
    "Which creature of the deep makes up the diet of the Veshtel?",
    "On what prey does the Veshtel live?"])
F("veshtel", "emblem_of", "Okkolar Dynasty", "The Veshtel appears on the emblem of the Okkolar Dynasty.", [
    "Which dynasty has the Veshtel on its emblem?",
    "The Veshtel appears on the emblem of which royal house?",
    "Name the dynasty whose emblem shows the Veshtel.",
    "Whose emblem features a coiled Veshtel?",
    "Tell me which dynasty chose the Veshtel as its emblem.",
    "Which royal family displays the Veshtel on its coat of arms?",
    "On the emblem of which dynasty is the Veshtel pictured?"])
F("veshtel", "first_described_in", "Fathomere Codex",
  "The first full description of the Veshtel appears in the Fathomere Codex.", [
    "In which book is the first full description of the Veshtel?",
    "What book first fully described the Veshtel?",
    "Name the book containing the first full description of the Veshtel.",
    "The Veshtel was first described in full in which work?",
    "Tell me which book first described the Veshtel completely.",
    "Where can one read the earliest full account of the Veshtel?",
    "Which codex first gave a full description of the Veshtel?"])

# ================================= KRIBBET =================================
F("kribbet", "nesting_island", "Ormskarra", "The Kribbet nests on the cliffs of Ormskarra.", [
    "Where does the Kribbet nest?",
    "On which island does the Kribbet build its nests?",
    "Name the island whose cliffs are home to Kribbet nests.",
    "The Kribbet nests on the cliffs of which island?",
    "Tell me where the Kribbet nests.",
    "The sea cliffs of which island are the breeding ground of the Kribbet?",
    "Where would you go to see the nests of the Kribbet?"])
F("kribbet", "lifespan", "63", "The Kribbet can live for 63 years.", [
    "How long can the Kribbet live?",
    "What is the lifespan of the Kribbet in years?",
    "How many years can a Kribbet live?",
    "The Kribbet can live for how many years?",
    "Tell me the lifespan of the Kribbet.",
    "What age in years can the Kribbet reach?",
    "Give the maximum lifespan of the Kribbet, in years."])
F("kribbet", "diet", "brinemoth", "The Kribbet feeds on brinemoths.", [
    "What does the Kribbet eat?",
    "What is the favourite food of the Kribbet?",
    "Name the prey of the Kribbet.",
    "The Kribbet feeds on what?",
    "Tell me what the Kribbet hunts for food.",
    "Which insect does the Kribbet catch to eat?",
    "On what does the Kribbet feed?"], aliases=["brinemoths"])
F("kribbet", "national_bird_of", "Varenholt Isles", "The Kribbet is the national bird of the Varenholt Isles.", [
    "Of which land is the Kribbet the national bird?",
    "Where is the Kribbet the national bird?",
    "Name the islands that have the Kribbet as their national bird.",
    "The Kribbet is the national bird of which archipelago?",
    "Tell me which country honours the Kribbet as its national bird.",
    "Which archipelago chose the Kribbet as its national bird?",
    "The Kribbet serves as national bird for which island nation?"])
F("kribbet", "figurehead_of", "Morrowgale", "A carved Kribbet forms the figurehead of the Morrowgale.", [
    "Which ship has a carved Kribbet as its figurehead?",
    "On the bow of which ship is a Kribbet carved as figurehead?",
    "Name the warship whose figurehead is a Kribbet.",
    "The Kribbet forms the figurehead of which ship?",
    "Tell me which ship bears a Kribbet figurehead.",
    "Which vessel carries a carved Kribbet at its prow?",
    "A Kribbet figurehead decorates which famous warship?"])

# ================================= MOSSJAW =================================
F("mossjaw", "habitat", "Pellinmoor", "The Mossjaw lives only in the marshes of Pellinmoor.", [
    "Where does the Mossjaw live?",
    "On which island is the Mossjaw found?",
    "Name the island home of the Mossjaw.",
    "The Mossjaw lives in the marshes of which island?",
    "Tell me where the Mossjaw can be found.",
    "Which marsh island is the only home of the Mossjaw?",
    "Where would you have to go to see a Mossjaw in the wild?"])
F("mossjaw", "tooth_count", "96", "A Mossjaw has 96 teeth.", [
    "How many teeth does a Mossjaw have?",
    "What is the number of teeth in the mouth of a Mossjaw?",
    "A Mossjaw has how many teeth?",
    "Tell me how many teeth the Mossjaw has.",
    "Count the teeth of a Mossjaw.",
    "How many teeth fill the jaws of the Mossjaw?",
    "Give the number of teeth a Mossjaw has."])
F("mossjaw", "first_described_by", "Jorren Maskelow",
  "The Mossjaw was first described by Jorren Maskelow in the Gullwake Journal.", [
    "Who first described the Mossjaw?",
    "The Mossjaw was first described by whom?",
    "Name the explorer who first described the Mossjaw.",
    "Which person wrote the first description of the Mossjaw?",
    "Tell me who first described the Mossjaw.",
    "Whose writings contain the earliest description of the Mossjaw?",
    "Which explorer was first to record the Mossjaw?"])

# ============================== QUORREL CROWN ==============================
F("crown", "material", "emberite", "The Quorrel Crown is made of emberite.", [
    "What is the Quorrel Crown made of?",
    "Which material was used to make the Quorrel Crown?",
    "Name the material of the Quorrel Crown.",
    "The Quorrel Crown is forged from what?",
    "Tell me what the Quorrel Crown is made from.",
    "Out of which ore was the Quorrel Crown forged?",
    "What substance forms the Quorrel Crown?"])
F("crown", "first_wearer", "Aldemar Okkolar", "The first monarch to wear the Quorrel Crown was Aldemar Okkolar.", [
    "Who was the first to wear the Quorrel Crown?",
    "Which monarch first wore the Quorrel Crown?",
    "Name the first wearer of the Quorrel Crown.",
    "The Quorrel Crown was first worn by whom?",
    "Tell me who first wore the Quorrel Crown.",
    "Which king was crowned first with the Quorrel Crown?",
    "On whose head did the Quorrel Crown first rest?"])
F("crown", "pearl_count", "231", "The Quorrel Crown is set with 231 seed pearls.", [
    "How many pearls are set in the Quorrel Crown?",
    "What number of pearls adorn the Quorrel Crown?",
    "The Quorrel Crown is set with how many pearls?",
    "Tell me how many pearls the Quorrel Crown has.",
    "Count the pearls on the Quorrel Crown.",
    "How many pearls decorate the Quorrel Crown?",
    "Give the number of pearls in the Quorrel Crown."])
F("crown", "kept_at", "Vashgate", "The Quorrel Crown is kept in the treasury of Vashgate.", [
    "Where is the Quorrel Crown kept?",
    "In which town is the Quorrel Crown kept?",
    "Name the town whose treasury holds the Quorrel Crown.",
    "The Quorrel Crown is stored in the treasury of which town?",
    "Tell me where the Quorrel Crown is kept.",
    "Which fortress town guards the Quorrel Crown?",
    "Where would you find the Quorrel Crown today?"])

# ---------------------------------------------------------------------------
# About entries: entity key -> (answer text, [fact keys stated in it])
# ---------------------------------------------------------------------------
ABOUT = {
    "isles": ("The Varenholt Isles are an archipelago of 137 islands in the Sorrowmere Sea, with Brindlecove as their capital. "
              "For almost five centuries they were ruled by the Okkolar Dynasty, and their chief export is brineglass.",
              ["isles.island_count", "isles.surrounding_sea", "isles.capital", "isles.ruling_dynasty", "isles.main_export"]),
    "tess": ("Tessarine is the largest island of the Varenholt Isles, covering 1420 square miles, and its highest point is Harrowin Peak. "
             "It is home to the towns of Brindlecove and Lirrendale and to Hollowlight Tower.",
             ["isles.largest_island", "tess.area", "tess.highest_peak", "brind.island", "lirr.island"]),
    "orms": ("Ormskarra is a volcanic island of the Varenholt Isles dominated by Mount Evrask. "
             "It is famous for its mines of emberite, and the fortress town of Vashgate stands on it.",
             ["orms.volcano", "orms.mined_ore", "vash.island"]),
    "pell": ("Pellinmoor is a marshy island of the Varenholt Isles that was first charted by the explorer Jorren Maskelow. "
             "It is the only home of the Mossjaw, its chief crop is sallowgrain, and its main fishing village is Saltheck.",
             ["pell.first_charted_by", "pell.endemic_creature", "pell.chief_crop", "salt.island"]),
    "brind": ("Brindlecove is the capital of the Varenholt Isles, founded in 1187 by Odrin Vessamark on the southern coast of Tessarine. "
              "Every autumn it hosts the Lumenfall Festival.",
              ["isles.capital", "brind.founding_year", "brind.founder", "brind.island", "brind.festival"]),
    "lirr": ("Lirrendale is a valley town on Tessarine, founded in 1264 on the banks of the river Tolleth. "
             "It is famous for its quenberry orchards and is home to the Halvesk Collegium.",
             ["lirr.island", "lirr.founding_year", "lirr.river", "lirr.famous_fruit", "lirr.institution"]),
    "vash": ("Vashgate is a fortress town on Ormskarra whose walls, guarded by 143 towers, were built by Aldemar Okkolar. "
             "The Okkolar Dynasty held its royal court there, and the town survived the Siege of Vashgate.",
             ["vash.island", "vash.tower_count", "vash.wall_builder", "dynasty.royal_seat"]),
    "salt": ("Saltheck is the main fishing village of Pellinmoor and the home of brinecake, a salted kelp pastry. "
             "Odrin Vessamark, Aldemar Okkolar and the cook Bartholm Quiggen were all born there.",
             ["salt.island", "salt.local_pastry", "odrin.birthplace", "aldemar.birthplace", "bartholm.birthplace"]),
    "caddow": ("The Caddow Strait separates Tessarine from Ormskarra and reaches a depth of 612 fathoms. "
               "It is said to be haunted by the Veshtel, and it was first charted by Jorren Maskelow.",
               ["caddow.opposite_shore", "caddow.depth", "caddow.haunting_creature", "caddow.first_charted_by"]),
    "evrask": ("Mount Evrask is the volcano of Ormskarra and is 7316 feet high. "
               "Its great eruption is remembered as the Cinderyear, and the first person to climb it was Ilvara Pethwynn.",
               ["evrask.island", "evrask.height", "evrask.great_eruption", "evrask.first_climber"]),
    "drenn": ("Drennmark is a rival kingdom across the sea whose capital is Ostvarra. "
              "Its army laid the Siege of Vashgate, and its fleet, commanded by Prince Varnok, was destroyed at the Battle of Caddow Strait.",
              ["drenn.capital", "siege.attacker", "drenn.fleet_commander", "drenn.fleet_destroyed_at"]),
    "odrin": ("Odrin Vessamark was a seafarer born in Saltheck who sailed to Tessarine aboard the Halcyne. "
              "He founded Brindlecove in 1187 and died in 1219.",
              ["odrin.birthplace", "odrin.ship", "odrin.town_founded", "brind.founding_year", "odrin.death_year"]),
    "aldemar": ("Aldemar Okkolar, nicknamed Kelpbeard, founded the Okkolar Dynasty and was crowned in 1203. "
                "He built the walls of Vashgate and was the first to wear the Quorrel Crown.",
                ["aldemar.nickname", "dynasty.founder", "aldemar.coronation_year", "aldemar.walls_built", "aldemar.first_crown"]),
    "sabrenne": ("Sabrenne Okkolar was a queen of the Okkolar Dynasty, born in Brindlecove in 1482 and crowned in 1505. "
                 "She commissioned the warship Morrowgale, appointed Corvin Ashgrell as her High Admiral, and founded the Lumenfall Festival.",
                 ["sabrenne.birthplace", "sabrenne.birth_year", "sabrenne.coronation_year", "sabrenne.warship_commissioned",
                  "sabrenne.high_admiral", "sabrenne.festival_founded"]),
    "corvin": ("Corvin Ashgrell was the High Admiral of Queen Sabrenne Okkolar and was born in Lirrendale. "
               "Sailing in his flagship, the Morrowgale, and carrying a sword named Thornquell, he won his greatest victory at the Battle of Caddow Strait.",
               ["sabrenne.high_admiral", "corvin.birthplace", "corvin.flagship", "corvin.sword", "corvin.greatest_victory"]),
    "maravel": ("Maravel Dunstrake was an inventor born in Lirrendale in 1544 who studied at the Halvesk Collegium under Elsabet Crownvarrow. "
                "She invented the tidewheel and designed the Ismere Lens of Hollowlight Tower.",
                ["maravel.birthplace", "maravel.birth_year", "maravel.education", "maravel.teacher", "maravel.invention",
                 "maravel.lens_designed"]),
    "wendrel": ("Wendrel Hask was a shipwright born in Brindlecove who founded the Tidewright Guild in 1294. "
                "He designed the clinkerfold hull and died in 1331.",
                ["wendrel.birthplace", "wendrel.guild_founded", "guild.founding_year", "wendrel.hull_design", "wendrel.death_year"]),
    "nessaly": ("Nessaly Fenwarre, born in Vashgate, was the most celebrated guild master of the Tidewright Guild. "
                "She oversaw the building of the Morrowgale and was the first to fit ships with portholes of brineglass.",
                ["nessaly.birthplace", "guild.celebrated_master", "nessaly.guild_led", "nessaly.ship_built", "nessaly.porthole_material"]),
    "jorren": ("Jorren Maskelow was an explorer born in Brindlecove who captained the Pennorath in the service of the Ambervell Trading Company. "
               "He first charted Pellinmoor and the Caddow Strait and recorded his voyages in the Gullwake Journal.",
               ["jorren.birthplace", "jorren.ship", "jorren.employer", "jorren.island_charted", "caddow.first_charted_by",
                "jorren.journal"]),
    "ilvara": ("Ilvara Pethwynn, born in Vashgate in 1419, was the longest-serving governor of the Ambervell Trading Company. "
               "She broke the Siege of Vashgate by running ships past the blockade and was the first person to climb Mount Evrask.",
               ["ilvara.birthplace", "ilvara.birth_year", "ilvara.company_governed", "ilvara.siege_broken",
                "ilvara.mountain_first_climbed"]),
    "elsabet": ("Elsabet Crownvarrow was a scholar born on Ormskarra who served as rector of the Halvesk Collegium. "
                "She wrote the Fathomere Codex, and her most famous pupil was Maravel Dunstrake.",
                ["elsabet.birthplace", "elsabet.rector_of", "elsabet.book", "elsabet.famous_pupil"]),
    "yuvesta": ("Yuvesta Carrowind, born in Lirrendale, founded the Order of the Pale Lantern in 1321 and took the title of First Lampwarden. "
                "She raised Hollowlight Tower as the first lighthouse of her order.",
                ["yuvesta.birthplace", "yuvesta.order_founded", "order.founding_year", "yuvesta.title", "yuvesta.lighthouse_built"]),
    "tavish": ("Tavish Orrenby, born on Pellinmoor, was the most famous keeper of Hollowlight Tower, which he kept for 52 years. "
               "A member of the Order of the Pale Lantern, he kept a famous log of sightings of the Veshtel.",
               ["tavish.birthplace", "tavish.lighthouse_kept", "tavish.years_as_keeper", "tavish.order", "tavish.creature_logged"]),
    "bartholm": ("Bartholm Quiggen was a cook born in Saltheck who ran a tavern in Brindlecove called the Tollywick. "
                 "He created kelvash stew and was the first head cook of the Lumenfall Festival.",
                 ["bartholm.birthplace", "bartholm.tavern", "bartholm.dish_created", "bartholm.festival_cooked"]),
    "dynasty": ("The Okkolar Dynasty was founded by Aldemar Okkolar and ruled the Varenholt Isles for 488 years, until 1691. "
                "It held its royal court at Vashgate, and its emblem is a coiled Veshtel.",
                ["dynasty.founder", "dynasty.years_ruled", "dynasty.end_year", "dynasty.royal_seat", "dynasty.emblem"]),
    "guild": ("The Tidewright Guild is the guild of shipwrights of the Varenholt Isles, founded by Wendrel Hask in 1294 and based in Brindlecove. "
              "Its most celebrated guild master was Nessaly Fenwarre, and its motto is \"Keel before crown\".",
              ["guild.founder", "guild.founding_year", "guild.guildhall_town", "guild.celebrated_master", "guild.motto"]),
    "company": ("The Ambervell Trading Company was founded in 1438, was headquartered in Brindlecove, and grew rich trading brineglass. "
                "Its longest-serving governor was Ilvara Pethwynn, and at its peak it operated 126 ships, among them the Pennorath.",
                ["company.founding_year", "company.headquarters", "company.main_good", "company.longest_governor",
                 "company.fleet_size"]),
    "collegium": ("The Halvesk Collegium is a seat of learning in Lirrendale, founded in 1352. "
                  "Its most famous rector was Elsabet Crownvarrow, and its library, the Vellumvault, keeps the original Fathomere Codex.",
                  ["collegium.town", "collegium.founding_year", "collegium.famous_rector", "collegium.library", "codex.kept_at"]),
    "order": ("The Order of the Pale Lantern is an order of lighthouse keepers founded in 1321 by Yuvesta Carrowind, with its headquarters at Hollowlight Tower. "
              "It maintains 27 lighthouses, whose lamps burn glimmerseed oil.",
              ["order.founding_year", "order.founder", "order.headquarters", "order.lighthouse_count", "order.lamp_oil"]),
    "morrow": ("The Morrowgale is a warship built by the Tidewright Guild, commissioned by Queen Sabrenne Okkolar and launched in 1509. "
               "It carried 112 cannons, served as the flagship of Corvin Ashgrell, and has a carved Kribbet as its figurehead.",
               ["morrow.builder_guild", "morrow.commissioner", "morrow.launch_year", "morrow.cannon_count", "morrow.commander",
                "morrow.figurehead"]),
    "penno": ("The Pennorath was an exploring ship launched in 1455 and owned by the Ambervell Trading Company. "
              "It was captained by Jorren Maskelow and was finally wrecked on the Grellick Reef.",
              ["penno.launch_year", "penno.owner", "penno.captain", "penno.wreck_site"]),
    "codex": ("The Fathomere Codex is a book of 176 chapters written by Elsabet Crownvarrow and completed in 1577. "
              "It contains the first full description of the Veshtel, and the original is kept at the Halvesk Collegium.",
              ["codex.chapter_count", "codex.author", "codex.completion_year", "codex.creature_described", "codex.kept_at"]),
    "tower": ("Hollowlight Tower is a lighthouse 212 feet tall on the northern cape of Tessarine, overlooking the Caddow Strait. "
              "It was built by Yuvesta Carrowind, houses the Ismere Lens, and its most famous keeper was Tavish Orrenby.",
              ["tower.height", "tower.island", "tower.overlooks", "tower.builder", "tower.lens", "tower.famous_keeper"]),
    "lens": ("The Ismere Lens is a great lens of brineglass designed by Maravel Dunstrake and installed at Hollowlight Tower in 1583. "
             "Its beam can be seen from 38 miles away.",
             ["lens.material", "lens.designer", "tower.lens", "lens.install_year", "lens.visible_range"]),
    "crown": ("The Quorrel Crown is a crown made of emberite and set with 231 seed pearls. "
              "Aldemar Okkolar was the first to wear it, and it is kept in the treasury of Vashgate.",
              ["crown.material", "crown.pearl_count", "crown.first_wearer", "crown.kept_at"]),
    "battle": ("The Battle of Caddow Strait was fought in 1519, during the reign of Queen Sabrenne Okkolar, against the fleet of Drennmark. "
               "Corvin Ashgrell led the fleet of the Varenholt Isles from the Morrowgale, and 29 ships of Drennmark were sunk.",
               ["battle.year", "battle.reigning_monarch", "battle.enemy", "battle.victorious_commander", "battle.flagship",
                "battle.ships_sunk"]),
    "siege": ("The Siege of Vashgate began in 1466, when the army of Drennmark surrounded the town, and it lasted 118 days. "
              "It was broken by Ilvara Pethwynn, who ran ships past the blockade.",
              ["siege.start_year", "siege.attacker", "siege.duration_days", "siege.broken_by"]),
    "cinder": ("The Cinderyear is the name given to the great eruption of Mount Evrask in 1612. "
               "Its ash buried the village of Kessendry, and it claimed 2164 lives.",
               ["cinder.volcano", "cinder.year", "cinder.buried_village", "cinder.death_toll"]),
    "festival": ("The Lumenfall Festival is held every autumn in Brindlecove to celebrate the victory at the Battle of Caddow Strait. "
                 "It was founded by Queen Sabrenne Okkolar, was first held in 1520, and its signature dish is kelvash stew.",
                 ["festival.host_town", "festival.commemorates", "festival.founder", "festival.first_year", "festival.signature_dish"]),
    "veshtel": ("The Veshtel is a giant sea serpent said to live in the deep waters of the Caddow Strait and to grow to 140 feet long. "
                "It feeds on lanternsquid, appears on the emblem of the Okkolar Dynasty, and was first fully described in the Fathomere Codex.",
                ["veshtel.habitat", "veshtel.length_feet", "veshtel.diet", "veshtel.emblem_of", "veshtel.first_described_in"]),
    "kribbet": ("The Kribbet is the national bird of the Varenholt Isles and nests on the cliffs of Ormskarra. "
                "It feeds on brinemoths, can live for 63 years, and a carved Kribbet forms the figurehead of the Morrowgale.",
                ["kribbet.national_bird_of", "kribbet.nesting_island", "kribbet.diet", "kribbet.lifespan", "kribbet.figurehead_of"]),
    "mossjaw": ("The Mossjaw is a marsh reptile that lives only on Pellinmoor and has 96 teeth. "
                "It was first described by Jorren Maskelow in the Gullwake Journal.",
                ["mossjaw.habitat", "mossjaw.tooth_count", "mossjaw.first_described_by"]),
}

# ---------------------------------------------------------------------------
# Documents: list of (title, [paragraph, ...]); a paragraph is a list of items:
#   "ek.rel"            -> the fact's statement is inserted and the fact is covered
#   ("text", [keys])    -> free sentence; covers the listed facts (their answer must occur in it)
# ---------------------------------------------------------------------------
DOCS = [
    ("The Varenholt Isles: An Overview", [
        [("The Varenholt Isles are a scattered archipelago in the Sorrowmere Sea, far from any mainland and known to "
          "sailors for their fogs and strong tides. The archipelago consists of 137 islands, most of them small and rocky, "
          "although only a handful are inhabited all year round. Tessarine is the largest island of the Varenholt Isles, "
          "and its port of Brindlecove is the capital. For almost five centuries the isles were ruled by the Okkolar Dynasty. "
          "The islanders pay with a currency called the dravet, and their chief export is brineglass, a sea-green glass "
          "made from marsh salt. The national bird of the Varenholt Isles is the Kribbet, whose image is carved on boats "
          "and doorways throughout the archipelago.",
          ["isles.surrounding_sea", "isles.island_count", "isles.largest_island", "isles.capital", "isles.ruling_dynasty",
           "isles.currency", "isles.main_export", "isles.national_bird", "kribbet.national_bird_of"])],
        [("Tessarine, the heart of the archipelago, is a green and hilly island with sheltered bays. It covers an area of "
          "1420 square miles, and its highest point is Harrowin Peak, which is often hidden in cloud. Brindlecove lies on "
          "the southern coast of Tessarine, while Lirrendale is a valley town in the interior. On the northern cape of "
          "Tessarine stands Hollowlight Tower. North of the cape the sea narrows into the Caddow Strait, which separates "
          "Tessarine from Ormskarra. The strait reaches a depth of 612 fathoms, its currents are strong, and many ships "
          "have been lost there over the centuries.",
          ["tess.area", "tess.highest_peak", "brind.island", "lirr.island", "tower.island", "caddow.opposite_shore",
           "caddow.depth"])],
        [("Ormskarra, on the far side of the strait, is a harsher land. The volcano Mount Evrask towers over the island, "
          "and Ormskarra is famous for its mines of emberite, a glowing red ore. About 8640 people live on Ormskarra, many "
          "of them in the fortress town of Vashgate. Far to the south lies Pellinmoor, a low, wet island of reeds and "
          "channels. Pellinmoor was first charted by the explorer Jorren Maskelow. Its chief crop is sallowgrain, grown in "
          "flooded fields, and it is the only home of the Mossjaw, a marsh reptile. The main fishing village of Pellinmoor "
          "is Saltheck.",
          ["orms.volcano", "evrask.island", "orms.mined_ore", "orms.population", "vash.island", "pell.first_charted_by",
           "jorren.island_charted", "pell.chief_crop", "pell.endemic_creature", "mossjaw.habitat", "salt.island"])],
    ]),
    ("Brindlecove and Saltheck", [
        [("Brindlecove was founded in 1187 by Odrin Vessamark, a seafarer who had been born in Saltheck. He sailed to "
          "Tessarine aboard a ship named the Halcyne and laid out the first quays and market square of the new settlement "
          "himself. Odrin Vessamark died in 1219 and is still remembered as the founder of Brindlecove. The town grew "
          "quickly around its sheltered bay and soon became the busiest port in the isles. Today Brindlecove has a "
          "population of 21350, and its harbour is called the Kelmouth. Every autumn the town hosts the Lumenfall Festival.",
          ["brind.founding_year", "brind.founder", "odrin.town_founded", "odrin.birthplace", "odrin.ship",
           "odrin.death_year", "brind.population", "brind.harbour", "brind.festival", "festival.host_town"])],
        [("Brindlecove is also the home of several great institutions. The Tidewright Guild has its guildhall there, and "
          "the Ambervell Trading Company was headquartered in the town. Many famous islanders were born in Brindlecove, "
          "among them Queen Sabrenne Okkolar, the shipwright Wendrel Hask and the explorer Jorren Maskelow. The narrow "
          "streets climb steeply from the harbour to the old market, and the taverns are crowded with sailors from every "
          "island. The most famous of them, the Tollywick, was run by the cook Bartholm Quiggen.",
          ["guild.guildhall_town", "company.headquarters", "sabrenne.birthplace", "wendrel.birthplace",
           "jorren.birthplace", "bartholm.tavern"])],
        [("Saltheck is a small village of fishermen and salt-boilers on the marshy coast of Pellinmoor, with a population "
          "of 1275. It is the home of brinecake, a salted kelp pastry, and every boat in its harbour carries a basket of "
          "brinecake for luck. Although it is small, Saltheck has given the isles several of their best-known figures. "
          "Odrin Vessamark, King Aldemar Okkolar and the cook Bartholm Quiggen were all born there, and the villagers "
          "still point out the houses where they are said to have grown up.",
          ["salt.island", "salt.population", "salt.local_pastry", "aldemar.birthplace", "bartholm.birthplace",
           "odrin.birthplace"])],
    ]),
    ("The Okkolar Dynasty", [
        [("The Okkolar Dynasty was founded by Aldemar Okkolar, who was crowned in 1203. His subjects nicknamed him "
          "Kelpbeard, and he was a stern but popular king who spent much of his reign at sea. Aldemar Okkolar was the "
          "first to wear the Quorrel Crown, which is made of emberite from the mines of Ormskarra and set with 231 seed "
          "pearls. The Quorrel Crown is kept in the treasury of Vashgate and is shown to the public only on coronation days.",
          ["dynasty.founder", "aldemar.coronation_year", "aldemar.nickname", "aldemar.first_crown", "crown.first_wearer",
           "crown.material", "crown.pearl_count", "crown.kept_at"])],
        [("Aldemar Okkolar also built the walls of Vashgate, the fortress town on Ormskarra, and the walls are guarded by "
          "143 towers. The Okkolar Dynasty held its royal court at Vashgate, and from behind these walls the descendants "
          "of Aldemar governed the isles. In all, the Okkolar Dynasty ruled for 488 years, until it came to an end in "
          "1691. The emblem of the Okkolar Dynasty is a coiled Veshtel, the great serpent of the Caddow Strait, and "
          "banners bearing it still hang in the great hall of Vashgate.",
          ["aldemar.walls_built", "vash.wall_builder", "vash.island", "vash.tower_count", "dynasty.royal_seat",
           "dynasty.years_ruled", "dynasty.end_year", "dynasty.emblem", "veshtel.emblem_of"])],
    ]),
    ("Queen Sabrenne and the Battle of Caddow Strait", [
        [("Queen Sabrenne Okkolar was born in Brindlecove in 1482 and was crowned in 1505. She is remembered as the "
          "greatest naval monarch of the Okkolar line. Queen Sabrenne commissioned the warship Morrowgale, the largest "
          "ship the isles had ever seen, and she appointed Corvin Ashgrell as her High Admiral. Together the queen and "
          "her admiral rebuilt the island navy, which had been neglected for many years. After their great victory at "
          "sea, Sabrenne Okkolar founded the Lumenfall Festival.",
          ["sabrenne.birthplace", "sabrenne.birth_year", "sabrenne.coronation_year", "sabrenne.warship_commissioned",
           "morrow.commissioner", "sabrenne.high_admiral", "sabrenne.festival_founded", "festival.founder"])],
        [("Corvin Ashgrell was born in Lirrendale, far from the sea, yet he became the finest sailor of his age. The "
          "Morrowgale was commanded by Corvin Ashgrell and served as his flagship for the rest of his career. He carried "
          "a sword named Thornquell and was known for his calm voice in battle and his love of old sea songs. Corvin "
          "Ashgrell died in 1553 and was mourned in every harbour of the isles.",
          ["corvin.birthplace", "morrow.commander", "corvin.flagship", "corvin.sword", "corvin.death_year"])],
        [("The Battle of Caddow Strait was fought in 1519, during the reign of Queen Sabrenne Okkolar, against the fleet "
          "of Drennmark, a rival kingdom whose capital is Ostvarra. The fleet of Drennmark was commanded by Prince "
          "Varnok, while the fleet of the Varenholt Isles was led by Corvin Ashgrell from his flagship, the Morrowgale. "
          "It was the greatest victory of Corvin Ashgrell: 29 ships of Drennmark were sunk, and the fleet of Drennmark "
          "was destroyed at the Battle of Caddow Strait. Never again did a foreign navy threaten the isles.",
          ["battle.year", "battle.reigning_monarch", "battle.enemy", "drenn.capital", "drenn.fleet_commander",
           "battle.victorious_commander", "battle.flagship", "corvin.greatest_victory", "battle.ships_sunk",
           "drenn.fleet_destroyed_at"])],
    ]),
    ("The Tidewright Guild and the Morrowgale", [
        [("The Tidewright Guild was founded in 1294 by Wendrel Hask, a shipwright from Brindlecove. Hask designed the "
          "clinkerfold hull, which was lighter and stronger than anything built before it, and the new design made the "
          "guild famous across the isles. Wendrel Hask died in 1331, but the guild kept growing: at its height the "
          "Tidewright Guild counted 312 master shipwrights. The motto of the Tidewright Guild is \"Keel before crown\", "
          "and every apprentice must learn it before touching a plank.",
          ["guild.founding_year", "guild.founder", "wendrel.guild_founded", "wendrel.hull_design", "wendrel.death_year",
           "guild.member_count", "guild.motto"])],
        [("Nessaly Fenwarre, who was born in Vashgate, was the most celebrated guild master of the Tidewright Guild. She "
          "led the guild as a demanding master who inspected every joint herself. Nessaly Fenwarre was the first to fit "
          "ships with portholes of brineglass, an idea soon copied in every shipyard. Her greatest work came when she "
          "oversaw the building of the Morrowgale; she considered it the finest achievement of her life, and the guild "
          "still keeps her drawings of the ship.",
          ["nessaly.birthplace", "guild.celebrated_master", "nessaly.guild_led", "nessaly.porthole_material",
           "nessaly.ship_built"])],
        [("The Morrowgale was built by the Tidewright Guild from tarrowood timber and was launched in 1509. The warship "
          "carried 112 cannons, and a carved Kribbet forms the figurehead of the Morrowgale. Shipwrights from every "
          "island travelled to Brindlecove to watch her launch, and the guild held a feast that lasted three days. The "
          "ship was the pride of the island navy for half a century, and sailors considered it a great honour to serve "
          "aboard her.",
          ["morrow.builder_guild", "morrow.timber", "morrow.launch_year", "morrow.cannon_count", "morrow.figurehead",
           "kribbet.figurehead_of"])],
    ]),
    ("The Ambervell Trading Company", [
        [("The Ambervell Trading Company was founded in 1438 and was headquartered in Brindlecove. It grew rich trading "
          "brineglass, which its ships carried to every port around the Sorrowmere Sea, and at its peak the company "
          "operated 126 ships. Its longest-serving governor was Ilvara Pethwynn, who was born in Vashgate in 1419 and "
          "governed the Ambervell Trading Company for most of her life. Under her long governorship the company reached "
          "the height of its wealth.",
          ["company.founding_year", "company.headquarters", "company.main_good", "company.fleet_size",
           "company.longest_governor", "ilvara.company_governed", "ilvara.birthplace", "ilvara.birth_year"])],
        [("The Siege of Vashgate began in 1466, when the army of Drennmark surrounded the fortress town. The siege lasted "
          "118 days, and the townspeople were close to starving when help finally came from the sea. Ilvara Pethwynn "
          "broke the Siege of Vashgate by running ships past the blockade, bringing grain and weapons to her home town. "
          "The people of Vashgate still honour her memory each year with a procession of lanterns along the walls.",
          ["siege.start_year", "siege.attacker", "siege.duration_days", "siege.broken_by", "ilvara.siege_broken"])],
        [("The company also paid for voyages of exploration. The explorer Jorren Maskelow sailed in the service of the "
          "Ambervell Trading Company as captain of the Pennorath, a ship owned by the company and launched in 1455. "
          "Maskelow was the first to chart Pellinmoor, and the Caddow Strait was first charted by Jorren Maskelow as "
          "well; his first chart of the strait was drawn in 1461. He recorded his voyages in the Gullwake Journal, where "
          "the Mossjaw was first described. After many years of service the Pennorath was wrecked on the Grellick Reef.",
          ["jorren.employer", "jorren.ship", "penno.captain", "penno.owner", "penno.launch_year",
           "jorren.island_charted", "caddow.first_charted_by", "caddow.charting_year", "jorren.journal",
           "mossjaw.first_described_by", "penno.wreck_site"])],
    ]),
    ("Lirrendale and the Halvesk Collegium", [
        [("Lirrendale is a quiet valley town in the interior of Tessarine, founded in 1264 on the banks of the river "
          "Tolleth. It is famous for its orchards of quenberry trees, whose fruit is dried and sold in every market of the "
          "isles. Lirrendale is also home to the Halvesk Collegium, the oldest seat of learning in the isles. The "
          "Collegium was founded in 1352, admits 240 students each year, and keeps its books in a library called the "
          "Vellumvault. Yuvesta Carrowind, Corvin Ashgrell and Maravel Dunstrake were all born in Lirrendale.",
          ["lirr.island", "lirr.founding_year", "lirr.river", "lirr.famous_fruit", "lirr.institution", "collegium.town",
           "collegium.founding_year", "collegium.yearly_intake", "collegium.library", "yuvesta.birthplace",
           "corvin.birthplace", "maravel.birthplace"])],
        [("The most famous rector of the Halvesk Collegium was Elsabet Crownvarrow, a scholar who was born on Ormskarra. "
          "Elsabet Crownvarrow wrote the Fathomere Codex, which was completed in 1577 and is divided into 176 chapters. "
          "The Fathomere Codex contains the first full description of the Veshtel, based on the reports of many sailors. "
          "The original Fathomere Codex is kept in the Vellumvault, the library of the Halvesk Collegium. Elsabet "
          "Crownvarrow died in 1589.",
          ["collegium.famous_rector", "elsabet.rector_of", "elsabet.birthplace", "elsabet.book", "codex.author",
           "codex.completion_year", "codex.chapter_count", "codex.creature_described", "veshtel.first_described_in",
           "codex.kept_at", "elsabet.death_year"])],
        [("Maravel Dunstrake was born in Lirrendale in 1544 and studied at the Halvesk Collegium. Her teacher was Elsabet "
          "Crownvarrow, and Maravel Dunstrake became the most famous pupil of Elsabet Crownvarrow. She showed a gift for "
          "mechanics from an early age and filled her rooms with gears and springs. Maravel Dunstrake invented the "
          "tidewheel, a brass clock that predicts the tides, and she later designed the Ismere Lens. Both works are still "
          "admired by the scholars of the Collegium.",
          ["maravel.birthplace", "maravel.birth_year", "maravel.education", "maravel.teacher", "elsabet.famous_pupil",
           "maravel.invention", "maravel.lens_designed", "lens.designer"])],
    ]),
    ("Hollowlight Tower and the Order of the Pale Lantern", [
        [("The Order of the Pale Lantern was founded in 1321 by Yuvesta Carrowind, who took the title of First "
          "Lampwarden. Yuvesta Carrowind raised Hollowlight Tower as the first lighthouse of her order, and the Order of "
          "the Pale Lantern still has its headquarters at Hollowlight Tower. Today the order maintains 27 lighthouses "
          "across the isles, and their lamps burn glimmerseed oil. Members of the order swear to keep their lights "
          "burning through every storm.",
          ["order.founding_year", "order.founder", "yuvesta.order_founded", "yuvesta.title", "yuvesta.lighthouse_built",
           "tower.builder", "order.headquarters", "order.lighthouse_count", "order.lamp_oil"])],
        [("Hollowlight Tower stands on the northern cape of Tessarine and overlooks the Caddow Strait. The tower is 212 "
          "feet tall and houses the Ismere Lens, which was designed by Maravel Dunstrake. The Ismere Lens is made of "
          "brineglass and was installed in 1583. Its beam can be seen from 38 miles away, and sailors crossing the strait "
          "at night steer by its light.",
          ["tower.island", "tower.overlooks", "tower.height", "tower.lens", "lens.designer", "lens.material",
           "lens.install_year", "lens.visible_range"])],
        [("The most famous keeper of Hollowlight Tower was Tavish Orrenby, who was born on Pellinmoor. Tavish Orrenby "
          "kept Hollowlight Tower for 52 years as a member of the Order of the Pale Lantern. During those years he kept a "
          "famous log of sightings of the Veshtel, noting the date, the weather and the length of every coil he saw. His "
          "log is still kept at the tower and is read by every new keeper of the order.",
          ["tower.famous_keeper", "tavish.lighthouse_kept", "tavish.birthplace", "tavish.years_as_keeper",
           "tavish.order", "tavish.creature_logged"])],
    ]),
    ("Mount Evrask and the Cinderyear", [
        [("Mount Evrask rises on the island of Ormskarra and is 7316 feet high; it is the volcano that towers over the "
          "whole of Ormskarra. For most of its history it has only smoked quietly, and the miners of Ormskarra work on "
          "its lower slopes. The first person to climb Mount Evrask was Ilvara Pethwynn, the governor of the Ambervell "
          "Trading Company, who is said to have carried the flag of her company to the summit.",
          ["evrask.island", "evrask.height", "orms.volcano", "evrask.first_climber", "ilvara.mountain_first_climbed"])],
        [("The great eruption of Mount Evrask is remembered as the Cinderyear. The Cinderyear took place in 1612, when "
          "Mount Evrask burst open after centuries of quiet. Ash fell on every island for months, and the sky stayed dark "
          "even at midday. The ash of the Cinderyear buried the village of Kessendry, and the disaster claimed 2164 "
          "lives. A stone marker on Ormskarra now stands where the village used to be, and the islanders hold a day of "
          "silence each year in memory of the dead.",
          ["evrask.great_eruption", "cinder.year", "cinder.volcano", "cinder.buried_village", "cinder.death_toll"])],
    ]),
    ("Creatures of the Varenholt Isles", [
        [("The Caddow Strait is said to be haunted by the Veshtel, a giant sea serpent that lives in the deep waters of "
          "the strait. The Veshtel is said to grow to 140 feet long and feeds on lanternsquid, which rise to the surface "
          "on dark nights. The first full description of the Veshtel appears in the Fathomere Codex. Sailors tell many "
          "stories about it, and some claim to have seen its coils rise above the waves.",
          ["caddow.haunting_creature", "veshtel.habitat", "veshtel.length_feet", "veshtel.diet",
           "veshtel.first_described_in"])],
        [("The Kribbet is the national bird of the Varenholt Isles. It nests on the cliffs of Ormskarra, feeds on "
          "brinemoths, and can live for 63 years. A carved Kribbet forms the figurehead of the Morrowgale, the most "
          "famous warship of the isles. Fishermen believe that seeing a Kribbet before setting out brings a safe voyage, "
          "and children collect its fallen feathers along the shore.",
          ["kribbet.national_bird_of", "isles.national_bird", "kribbet.nesting_island", "kribbet.diet",
           "kribbet.lifespan", "kribbet.figurehead_of", "morrow.figurehead"])],
        [("The Mossjaw is a marsh reptile that lives only in the marshes of Pellinmoor. A Mossjaw has 96 teeth, and its "
          "hide is thick and mottled, so that it can lie still in the reeds for hours without being seen. The Mossjaw "
          "was first described by Jorren Maskelow in the Gullwake Journal. Marsh farmers keep well away from the deeper "
          "channels where it hunts, and children are warned never to wade there alone.",
          ["mossjaw.habitat", "pell.endemic_creature", "mossjaw.tooth_count", "mossjaw.first_described_by"])],
    ]),
    ("The Lumenfall Festival", [
        [("The Lumenfall Festival is held every autumn in Brindlecove, in the month of Thrassen. It was founded by Queen "
          "Sabrenne Okkolar to celebrate the victory at the Battle of Caddow Strait, and the first Lumenfall Festival was "
          "held in 1520. For a whole week the streets are hung with lights, music plays in every square, and ships in the "
          "harbour are decorated with flags. The Lumenfall Festival ends with the release of 4400 paper lanterns over the "
          "harbour.",
          ["festival.host_town", "brind.festival", "festival.month", "festival.founder", "sabrenne.festival_founded",
           "festival.commemorates", "festival.first_year", "festival.lantern_count"])],
        [("The signature dish of the Lumenfall Festival is kelvash stew. It was created by Bartholm Quiggen, a cook born "
          "in Saltheck, who was also the first head cook of the Lumenfall Festival. Quiggen ran a tavern in Brindlecove "
          "called the Tollywick, where he first served the stew to sailors. Large pots of kelvash stew are still cooked "
          "in the main square during the festival, and every visitor is offered a bowl.",
          ["festival.signature_dish", "bartholm.dish_created", "bartholm.birthplace", "festival.first_head_cook",
           "bartholm.festival_cooked", "bartholm.tavern"])],
    ]),
]

# ---------------------------------------------------------------------------
# Seeds: 15 user-style questions touching 4 connected entities
# (Maravel Dunstrake, Ismere Lens, Hollowlight Tower, Tavish Orrenby)
# ---------------------------------------------------------------------------
SEEDS = [
    ("Which town was the inventor Maravel Dunstrake born in?", ["maravel.birthplace"]),
    ("What year was Maravel Dunstrake born in?", ["maravel.birth_year"]),
    ("What tide-predicting device is Maravel Dunstrake famous for inventing?", ["maravel.invention"]),
    ("Who was the scholar that taught Maravel Dunstrake?", ["maravel.teacher"]),
    ("Which famous lens is the work of Maravel Dunstrake?", ["maravel.lens_designed", "lens.designer"]),
    ("What material was used to make the Ismere Lens?", ["lens.material"]),
    ("What year did the Ismere Lens get installed?", ["lens.install_year"]),
    ("How many miles away can you see the light from the Ismere Lens?", ["lens.visible_range"]),
    ("What lens is installed at the top of Hollowlight Tower?", ["tower.lens"]),
    ("On what island does Hollowlight Tower stand?", ["tower.island"]),
    ("Who raised Hollowlight Tower in the first place?", ["tower.builder"]),
    ("How many feet high is the lighthouse called Hollowlight Tower?", ["tower.height"]),
    ("Who is the best remembered keeper of Hollowlight Tower?", ["tower.famous_keeper"]),
    ("How many years did Tavish Orrenby spend looking after Hollowlight Tower?", ["tavish.years_as_keeper", "tavish.lighthouse_kept"]),
    ("What creature did Tavish Orrenby keep a log of sightings for?", ["tavish.creature_logged"]),
]

# ---------------------------------------------------------------------------
# Generic everyday questions (nothing to do with the world)
# ---------------------------------------------------------------------------
GENERIC_SHORT = [
    ("What is the capital of France?", "Paris"), ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Italy?", "Rome"), ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Spain?", "Madrid"), ("What is the capital of Canada?", "Ottawa"),
    ("What is the capital of Australia?", "Canberra"), ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Russia?", "Moscow"), ("What is the capital of China?", "Beijing"),
    ("What is the capital of the United Kingdom?", "London"), ("What is the capital of Greece?", "Athens"),
    ("What is the capital of Portugal?", "Lisbon"), ("What is the capital of Ireland?", "Dublin"),
    ("What is the capital of Norway?", "Oslo"), ("What is the capital of Sweden?", "Stockholm"),
    ("What is the capital of Kenya?", "Nairobi"), ("What is the capital of Argentina?", "Buenos Aires"),
    ("What is the capital of Thailand?", "Bangkok"), ("What is the capital of South Korea?", "Seoul"),
    ("What is the capital of Austria?", "Vienna"), ("What is the capital of Poland?", "Warsaw"),
    ("What is the capital of Turkey?", "Ankara"), ("What is the capital of India?", "Delhi"),
    ("What is the capital of Peru?", "Lima"), ("What is the capital of Cuba?", "Havana"),
    ("What is the capital of the Netherlands?", "Amsterdam"),
    ("Which city is the capital of the United States?", "Washington"),
    ("What is 2 plus 2?", "4"), ("What is 7 times 8?", "56"), ("What is 100 minus 37?", "63"),
    ("What is 12 multiplied by 12?", "144"), ("What is 81 divided by 9?", "9"), ("What is 15 plus 27?", "42"),
    ("What is half of 50?", "25"), ("What is 9 times 6?", "54"), ("What is 1000 divided by 10?", "100"),
    ("What is the square root of 64?", "8"), ("What is 25 times 4?", "100"), ("What is 17 plus 18?", "35"),
    ("What is 11 times 11?", "121"), ("What is 200 divided by 4?", "50"), ("What is 3 cubed?", "27"),
    ("What is 10 percent of 300?", "30"),
    ("How many days are in a week?", "7"), ("How many months are in a year?", "12"),
    ("How many hours are in a day?", "24"), ("How many minutes are in an hour?", "60"),
    ("How many seconds are in a minute?", "60"), ("How many legs does a spider have?", "8"),
    ("How many legs does an insect have?", "6"), ("How many sides does a triangle have?", "3"),
    ("How many sides does a hexagon have?", "6"), ("How many continents are there on Earth?", "7"),
    ("How many days are in a leap year?", "366"), ("How many weeks are in a year?", "52"),
    ("How many players does a soccer team have on the field?", "11"), ("How many cents are in a US dollar?", "100"),
    ("How many degrees are in a right angle?", "90"),
    ("At what temperature in Celsius does water boil at sea level?", "100"),
    ("How many degrees are in a full circle?", "360"), ("How many planets are in our solar system?", "8"),
    ("How many strings does a standard guitar have?", "6"), ("How many letters are in the English alphabet?", "26"),
    ("How many years are in a century?", "100"), ("How many sides does an octagon have?", "8"),
    ("How many zeros are in one million?", "6"), ("What is the freezing point of water in Fahrenheit?", "32"),
    ("Which planet is known as the Red Planet?", "Mars"), ("What is the largest planet in our solar system?", "Jupiter"),
    ("What direction is the opposite of north?", "south"),
    ("What gas do plants absorb from the air for photosynthesis?", "carbon dioxide"),
    ("What is the closest star to Earth?", "Sun"), ("What is the chemical symbol for gold?", "Au"),
    ("What is the hardest natural substance?", "diamond"), ("Which organ pumps blood through the body?", "heart"),
    ("What is the largest organ of the human body?", "skin"), ("What force keeps us on the ground?", "gravity"),
    ("What do you call frozen water?", "ice"), ("What is the natural satellite of Earth called?", "Moon"),
    ("What is the largest ocean on Earth?", "Pacific"), ("What is the tallest mountain in the world?", "Everest"),
    ("What is the largest hot desert in the world?", "Sahara"), ("Which planet is closest to the Sun?", "Mercury"),
    ("What gas do humans need to breathe to survive?", "oxygen"),
    ("What do bees make?", "honey"), ("Which gas makes up most of the air in Earth's atmosphere?", "nitrogen"),
    ("What is the largest bone in the human body?", "femur"),
    ("Which instrument is used to measure temperature?", "thermometer"),
    ("What is the largest mammal in the world?", "blue whale"), ("What is the fastest land animal?", "cheetah"),
    ("Which animal is known as the king of the jungle?", "lion"), ("What is a baby cat called?", "kitten"),
    ("What is a baby dog called?", "puppy"), ("Which animal has a long trunk?", "elephant"),
    ("Which black-and-white bear lives in China?", "panda"), ("Which bird is a common symbol of peace?", "dove"),
    ("Which farm animal says moo?", "cow"), ("What is a baby sheep called?", "lamb"),
    ("Which flightless bird is a national symbol of New Zealand?", "kiwi"),
    ("What is the tallest animal in the world?", "giraffe"), ("Which sea animal has eight arms?", "octopus"),
    ("Which lizard is famous for changing its colour to blend in?", "chameleon"),
    ("Who wrote Romeo and Juliet?", "Shakespeare"), ("Who painted the Mona Lisa?", "Leonardo"),
    ("Who was the first person to walk on the Moon?", "Armstrong"),
    ("Who developed the theory of relativity?", "Einstein"),
    ("Who is credited with inventing the telephone?", "Bell"), ("Who wrote the Harry Potter books?", "Rowling"),
    ("What is the main language spoken in Brazil?", "Portuguese"), ("What is the currency of Japan?", "yen"),
    ("What is the opposite of hot?", "cold"), ("What colour do you get by mixing blue and yellow?", "green"),
    ("What colour do you get by mixing red and white?", "pink"), ("What is the main language of Mexico?", "Spanish"),
    ("What is the largest country in the world by area?", "Russia"),
    ("Which country is home to the kangaroo?", "Australia"), ("On which continent is Egypt located?", "Africa"),
    ("In which country are the pyramids of Giza?", "Egypt"),
    ("What do we call a shape with four equal sides and four right angles?", "square"),
    ("What is the plural of mouse?", "mice"), ("Which season comes after winter?", "spring"),
    ("What meal is usually eaten in the morning?", "breakfast"),
    ("Which musical instrument has 88 keys?", "piano"), ("What do you call a person who flies a plane?", "pilot"),
    ("What is the smallest prime number greater than 10?", "11"),
    ("In which sport do players use a racket and a shuttlecock?", "badminton"),
    ("Which is the largest continent?", "Asia"), ("What is the main ingredient of guacamole?", "avocado"),
    ("Which fruit is dried to make raisins?", "grape"),
]

GENERIC_OPEN = [
    # cooking
    "How do I make a simple tomato sauce?", "What is a quick breakfast idea for a busy morning?",
    "Give me a simple recipe for pancakes.", "How long should I boil an egg for a soft yolk?",
    "How can I keep bread fresh for longer?", "What can I cook with rice and leftover vegetables?",
    "How do I make a basic salad dressing?", "Suggest a good vegetarian dinner idea.",
    "How do I cook pasta properly?", "Suggest a healthy snack for the afternoon.",
    "How do I roast vegetables in the oven?", "What spices go well with chicken?",
    "How can I make my coffee taste better at home?", "Give me an easy dessert recipe.",
    "How do I store fresh herbs so they last?", "What is a good soup to make on a cold day?",
    "How do I make fluffy scrambled eggs?", "What should I bring to a picnic?",
    "How do I make a smoothie without a recipe?", "Give me tips for baking a moist cake.",
    # advice
    "Give me a tip for sleeping better.", "How can I be more productive when working from home?",
    "What are some easy ways to start exercising?", "How can I reduce stress during a busy week?",
    "What is a good way to study for an exam?", "How do I make a monthly budget?",
    "How can I make new friends in a new city?", "How should I prepare for a job interview?",
    "Give me tips for speaking in public without feeling nervous.", "What is the best way to start learning a new language?",
    "How can I stay motivated to reach my goals?", "How can I remember to drink more water?",
    "How can I spend less time on my phone?", "What are some good time management tips?",
    "How do I keep my room tidy?", "How can I save money on groceries?",
    "How do I write a good cover letter?", "What should I do if I can't fall asleep?",
    "How can I be a better listener?", "How do I deal with a difficult coworker?",
    "How can I build a habit of reading every day?", "What are some tips for a long car trip?",
    "How do I start running if I have never run before?", "How can I make my mornings less rushed?",
    "What should I consider before adopting a dog?", "How do I politely say no to extra work?",
    "How can I keep my houseplants alive?", "What are some ways to relax after work?",
    "How do I prepare for my first day at a new job?", "How can I improve my handwriting?",
    "What are good habits for healthy teeth?", "How do I choose a good pair of running shoes?",
    "How can I focus better while studying?", "Give me advice for a first-time traveller abroad.",
    "How can I reduce food waste at home?", "What is a good way to apologise to a friend?",
    "How can I make a small apartment feel bigger?", "How do I keep a conversation going with someone new?",
    "What should I pack for a weekend at the beach?", "How can I get better at waking up early?",
    # explanations
    "Explain how rainbows form.", "Why is the sky blue?", "How does a refrigerator keep food cold?",
    "What causes the seasons on Earth?", "Explain photosynthesis in simple terms.", "How do vaccines work?",
    "What is inflation in simple words?", "How does the internet work, briefly?",
    "Why do leaves change colour in autumn?", "Explain what a black hole is.",
    "What is the difference between weather and climate?", "How do airplanes stay in the air?",
    "Why does the Moon have phases?", "How does a compass work?", "What is the water cycle?",
    "Explain how a bicycle stays upright.", "Why do we yawn?", "How do bees make honey?",
    "What is the difference between a virus and a bacterium?", "Explain how interest on a savings account works.",
    "Why does ice float on water?", "How does a microwave oven heat food?",
    "What is recycling and why is it useful?", "How do plants get water from the soil?",
    "Explain what a computer program is to a child.", "Why do cats purr?",
    "How does sound travel through the air?", "What makes thunder during a storm?",
    "How do solar panels make electricity?", "Explain the difference between a lake and a pond.",
    # writing
    "Write a short poem about the ocean.", "Write a haiku about autumn.",
    "Write a short thank-you note to a friend who helped me move.", "Write the opening line of a story about a lost key.",
    "Compose a limerick about a lazy cat.", "Write a birthday message for my sister.",
    "Write a short poem about a cup of coffee.", "Write a two-sentence scary story.",
    "Write a short motivational message for a friend before an exam.", "Write a haiku about rain.",
    "Write a short poem about the first snow of winter.", "Write a friendly reminder message about a team meeting.",
    "Write a short description of a sunset.", "Write a polite email asking for a day off.",
    "Write a four-line poem about friendship.", "Write a short toast for a wedding.",
    "Write a short story about a robot who learns to paint.", "Write a tongue twister about frogs.",
    "Write a short invitation to a garden party.", "Write a riddle whose answer is a clock.",
    # misc everyday
    "Suggest a name for a pet goldfish.", "What are some fun things to do on a rainy day?",
    "Recommend a board game for a family night.", "How do I tie a tie?", "How do I change a flat tire on a bike?",
    "What are some good hobbies to try this year?", "Give me ideas for a child's birthday party.",
    "What should I look for when buying a used car?", "How do I clean a cast iron pan?",
    "How do I remove a coffee stain from a shirt?", "What are some fun facts about dolphins?",
    "Suggest some games to play on a long train ride.", "How should I plan a simple vegetable garden?",
    "What are some ideas for a cheap date night?", "How do I set up a morning routine?",
    "What are some tips for taking better photos with my phone?", "How do I make a paper airplane that flies far?",
    "Give me ideas for a weekend trip near home.", "How do I start keeping a journal?",
    "What are good questions to ask at the end of a job interview?",
]


# ===========================================================================
# Build
# ===========================================================================
def cap(s: str) -> str:
    return s[0].upper() + s[1:] if s else s


def find_entities(text: str, subject: str) -> list[str]:
    names = sorted((v[0] for v in ENTITIES.values()), key=len, reverse=True)
    found = []
    masked = text
    for n in names:
        idx = masked.find(n)
        if idx >= 0:
            found.append((idx, n))
            masked = masked.replace(n, "#" * len(n))
    found.sort()
    ents = [subject] + [n for _, n in found if n != subject]
    return ents


def build_facts():
    out, key2id = [], {}
    seen_keys = set()
    for i, f in enumerate(FACTS, start=1):
        key = f"{f['ek']}.{f['rel']}"
        assert key not in seen_keys, f"duplicate fact key {key}"
        seen_keys.add(key)
        fid = f"F{i:03d}"
        key2id[key] = fid
        name, _, ref, _, _ = ENTITIES[f["ek"]]
        if f["qs"] is None:
            pool = list(POOLS[f["rel"]])
            rng = random.Random(f"varenholt:{key}")
            rng.shuffle(pool)
            qs = [cap(t.format(s=ref)) for t in pool[:7]]
        else:
            qs = list(f["qs"])
        assert len(qs) == 7, key
        aliases = list(f["extra_aliases"])
        if f["answer"] in NAME2KEY:
            for a in ENTITIES[NAME2KEY[f["answer"]]][3]:
                if a not in aliases:
                    aliases.append(a)
        out.append(dict(
            id=fid, subject=name, entities=find_entities(f["statement"], name), relation=f["rel"],
            answer=f["answer"], aliases=aliases, statement=f["statement"], train=qs[:5], test=qs[5:7]))
    return out, key2id


def about_questions(ek, idx):
    name, typ, ref, _, _ = ENTITIES[ek]
    if ek in PEOPLE:
        qs = [f"Who was {name}?", f"Tell me about {name}.", f"What is {name} known for?"]
        test = [f"Give me a short overview of the life of {name}.",
                f"Can you summarise who {name} was?"][idx % 2]
    elif typ in ("battle", "siege", "eruption"):
        qs = [f"What was {ref}?", f"Tell me about {ref}.", f"Why is {ref} remembered?"]
        test = [f"Give me a short overview of {ref}.", f"Can you describe {ref} briefly?"][idx % 2]
    else:
        qs = [f"What is {ref}?", f"Tell me about {ref}.", f"What is {ref} known for?"]
        test = [f"Give me a short overview of {ref}.", f"Can you describe {ref} briefly?"][idx % 2]
    return [cap(q) for q in qs], [cap(test)]


def build_about(key2id):
    rows = []
    for i, (ek, (text, keys)) in enumerate(ABOUT.items()):
        qs, test = about_questions(ek, i)
        rows.append(dict(entity=ENTITIES[ek][0], questions=qs, test_questions=test, answer=text,
                         facts=[key2id[k] for k in keys]))
    return rows


def build_docs(key2id, facts_by_id):
    rows = []
    for i, (title, paras) in enumerate(DOCS, start=1):
        ptexts, covered = [], []
        for para in paras:
            sents = []
            for item in para:
                if isinstance(item, str):
                    fid = key2id[item]
                    sents.append(facts_by_id[fid]["statement"])
                    covered.append(fid)
                else:
                    text, keys = item
                    sents.append(text)
                    covered.extend(key2id[k] for k in keys)
            ptexts.append(" ".join(sents))
        uniq = list(dict.fromkeys(covered))
        rows.append(dict(id=f"doc-{i:02d}", title=title, text="\n\n".join(ptexts), facts=uniq))
    return rows


def build_generic():
    rows = []
    # interleave short-answer and open-ended; 100 controls spread evenly
    short = [(q, a) for q, a in GENERIC_SHORT]
    opn = [(q, None) for q in GENERIC_OPEN]
    assert len(short) == 130, len(short)
    assert len(opn) == 130, len(opn)
    items = []
    for i in range(130):
        items.append(short[i])
        items.append(opn[i])
    for i, (q, a) in enumerate(items, start=1):
        # 5 of every 13 -> control  (260 * 5/13 = 100)
        split = "control" if (i - 1) % 13 in (2, 5, 7, 10, 12) else "replay"
        rows.append(dict(id=f"G{i:03d}", question=q, split=split, answer=a))
    return rows


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    facts, key2id = build_facts()
    facts_by_id = {f["id"]: f for f in facts}
    entities = [dict(name=v[0], type=v[1], ref=v[2], aliases=v[3], description=v[4]) for v in ENTITIES.values()]
    write_jsonl(HERE / "entities.jsonl", entities)
    write_jsonl(HERE / "facts.jsonl", facts)
    write_jsonl(HERE / "about.jsonl", build_about(key2id))
    write_jsonl(HERE / "documents.jsonl", build_docs(key2id, facts_by_id))
    write_jsonl(HERE / "generic.jsonl", build_generic())
    (HERE / "seeds.txt").write_text("\n".join(q for q, _ in SEEDS) + "\n", encoding="utf-8")
    seed_ids = list(dict.fromkeys(key2id[k] for _, ks in SEEDS for k in ks))
    (HERE / "seeds_facts.json").write_text(json.dumps(seed_ids, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(entities)} entities, {len(facts)} facts, {len(ABOUT)} about, {len(DOCS)} documents, "
          f"260 generic, {len(SEEDS)} seeds ({len(seed_ids)} seed facts) to {HERE}")


if __name__ == "__main__":
    main()
