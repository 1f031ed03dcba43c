"""Word lists and code lists the synthetic population draws from.

Names are grouped by a coarse naming tradition (not by ethnicity code) so that a person's names fit
their true ethnicity. The lists deliberately carry the awkward cases linkage must survive: accents
(Zoë, Siân, Łukasz), apostrophes (O'Brien, D'Souza), hyphens (Anne-Marie, Ashton-Smith), spaces
(double-barrelled "Bonham Carter", "Abu Bakr") and spelling variants (Mohammed / Muhammad).
"""

from __future__ import annotations

# --- true ethnicity: the NPD minor codes without the two "not known" codes.
ETHNICITIES = (
    "WBRI", "WIRI", "WOTH", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH",
    "BCRB", "BAFR", "BOTH", "CHNE", "OOTH",
)
# relative share of births by group in the least and the most diverse areas (normalised when used)
ETHNICITY_SHARE_LOW = (0.86, 0.006, 0.06, 0.01, 0.004, 0.008, 0.008, 0.012, 0.006, 0.002, 0.006,
                       0.003, 0.006, 0.002, 0.003, 0.004)
ETHNICITY_SHARE_HIGH = (0.40, 0.006, 0.10, 0.03, 0.02, 0.015, 0.025, 0.07, 0.13, 0.05, 0.04,
                        0.025, 0.10, 0.02, 0.01, 0.059)

# naming tradition per true ethnicity (index into NAME_GROUPS)
NAME_GROUPS = ("british", "east_european", "south_asian_muslim", "south_asian_hindu_sikh", "black_african",
               "caribbean", "chinese", "arab_other")
ETHNICITY_NAME_GROUP = {
    "WBRI": "british", "WIRI": "british", "WOTH": "east_european", "MWBC": "caribbean", "MWBA": "black_african",
    "MWAS": "british", "MOTH": "british", "AIND": "south_asian_hindu_sikh", "APKN": "south_asian_muslim",
    "ABAN": "south_asian_muslim", "AOTH": "south_asian_hindu_sikh", "BCRB": "caribbean", "BAFR": "black_african",
    "BOTH": "black_african", "CHNE": "chinese", "OOTH": "arab_other",
}

# code maps of the true ethnicity to each dataset's list
HES_ETHNOS = {"WBRI": "A", "WIRI": "B", "WOTH": "C", "MWBC": "D", "MWBA": "E", "MWAS": "F", "MOTH": "G",
              "AIND": "H", "APKN": "J", "ABAN": "K", "AOTH": "L", "BCRB": "M", "BAFR": "N", "BOTH": "P",
              "CHNE": "R", "OOTH": "S"}
CENSUS_2011_GROUP = {"WBRI": "1", "WIRI": "2", "WOTH": "4", "MWBC": "5", "MWBA": "6", "MWAS": "7", "MOTH": "8",
                     "AIND": "9", "APKN": "10", "ABAN": "11", "CHNE": "12", "AOTH": "13", "BAFR": "14",
                     "BCRB": "15", "BOTH": "16", "OOTH": "18"}
CENSUS_2021_GROUP = {"ABAN": "1", "CHNE": "2", "AIND": "3", "APKN": "4", "AOTH": "5", "BAFR": "6", "BCRB": "7",
                     "BOTH": "8", "MWAS": "9", "MWBA": "10", "MWBC": "11", "MOTH": "12", "WBRI": "13",
                     "WIRI": "14", "WOTH": "17", "OOTH": "19"}
# the mixed group a child gets when the parents' groups differ (by the minority parent's group)
MIXED_WITH_WHITE = {"BCRB": "MWBC", "BAFR": "MWBA", "BOTH": "MWBA", "AIND": "MWAS", "APKN": "MWAS",
                    "ABAN": "MWAS", "AOTH": "MWAS", "CHNE": "MWAS"}

# --- forenames: (boys, girls) per naming tradition, for children born from 2006
CHILD_FORENAMES = {
    "british": (
        ["Oliver", "Jack", "Harry", "Jacob", "Charlie", "Thomas", "George", "Oscar", "James", "William",
         "Noah", "Alfie", "Joshua", "Leo", "Archie", "Ethan", "Joseph", "Samuel", "Daniel", "Alexander",
         "Benjamin", "Matthew", "Lewis", "Ryan", "Callum", "Tyler", "Dylan", "Liam", "Riley", "Logan",
         "Seán", "Rhys", "Owen", "Finley", "Max", "Freddie", "Theo", "Toby", "Jayden", "Kai", "Jean-Luc",
         "Christopher", "Nicholas", "Michael", "Robert", "Jonathan", "Edward", "Henry", "Louis", "Zachary"],
        ["Olivia", "Amelia", "Emily", "Isla", "Ava", "Jessica", "Isabella", "Lily", "Sophie", "Grace",
         "Chloe", "Mia", "Ella", "Evie", "Charlotte", "Ruby", "Sophia", "Poppy", "Hannah", "Freya",
         "Zoë", "Chloé", "Élise", "Siân", "Niamh", "Aoife", "Anne-Marie", "Mary-Jane", "Lily-Rose", "Ellie-May",
         "Abigail", "Elizabeth", "Katherine", "Rebecca", "Victoria", "Samantha", "Jennifer", "Megan", "Holly",
         "Lucy", "Phoebe", "Scarlett", "Daisy", "Imogen", "Matilda", "Erin", "Leah", "Renée", "Millie", "Maisie"],
    ),
    "east_european": (
        ["Jakub", "Łukasz", "Mateusz", "Filip", "Szymon", "Kacper", "Michał", "Andrei", "Luca", "Matei",
         "Dawid", "Tomasz", "Aleksander", "Nikola", "Marko", "Darius", "Antoni", "Wojciech", "Piotr", "Oliver"],
        ["Zofia", "Zuzanna", "Julia", "Lena", "Maja", "Oliwia", "Amelia", "Hanna", "Alicja", "Natalia",
         "Ioana", "Maria", "Elena", "Gabriela", "Wiktoria", "Antonina", "Małgorzata", "Ana-Maria", "Emilia", "Kinga"],
    ),
    "south_asian_muslim": (
        ["Mohammed", "Muhammad", "Mohammad", "Ibrahim", "Yusuf", "Zain", "Ayaan", "Hamza", "Ali", "Omar",
         "Abdul Rahman", "Abu Bakr", "Bilal", "Hassan", "Imran", "Zakariya", "Haroon", "Musa", "Idris", "Rayyan"],
        ["Aisha", "Maryam", "Fatima", "Zara", "Hafsa", "Khadija", "Safa", "Inaya", "Amina", "Zainab",
         "Noor", "Hira", "Iqra", "Anaya", "Mariam", "Sana", "Eman", "Laiba", "Alisha", "Aleena"],
    ),
    "south_asian_hindu_sikh": (
        ["Arjun", "Aarav", "Rohan", "Krish", "Dev", "Harjeet", "Gurpreet", "Jaskaran", "Vihaan", "Aryan",
         "Sahil", "Nikhil", "Rahul", "Manpreet", "Ishaan", "Karan", "Anish", "Sai", "Jai", "Ravi"],
        ["Priya", "Anaya", "Diya", "Simran", "Jasleen", "Navneet", "Kiran", "Asha", "Riya", "Isha",
         "Aanya", "Meera", "Pooja", "Harleen", "Saanvi", "Nisha", "Divya", "Anjali", "Tara", "Shreya"],
    ),
    "black_african": (
        ["David", "Emmanuel", "Daniel", "Samuel", "Joshua", "Michael", "Tobi", "Oluwaseun", "Chinedu", "Kwame",
         "Kofi", "Ayodele", "Abdi", "Mohamed", "Tendai", "Ikenna", "Femi", "Jeremiah", "Elijah", "Nathaniel"],
        ["Grace", "Blessing", "Favour", "Precious", "Esther", "Deborah", "Adaeze", "Chioma", "Amara", "Nia",
         "Ayesha", "Hodan", "Fartun", "Abena", "Ama", "Temitope", "Oluwatobi", "Zainab", "Faith", "Mercy"],
    ),
    "caribbean": (
        ["Tyrese", "Jaden", "Kai", "Malachi", "Isaiah", "Marcus", "Tyler", "Jordan", "Reuben", "Kyle",
         "Nathan", "Dwayne", "Jerome", "Leon", "Corey", "Elijah", "Josiah", "Shane", "Andre", "Darnell"],
        ["Jada", "Aaliyah", "Shanice", "Tia", "Keisha", "Maya", "Nia", "Imani", "Destiny", "Kayla",
         "Jasmine", "Chantelle", "Tiana", "Amani", "Renée", "Shaniqua", "Jodie", "Kiera", "Precious", "Zoë"],
    ),
    "chinese": (
        ["Wei", "Jun", "Hao", "Ming", "Yi", "Jian", "Kai", "Ethan", "Lucas", "Ryan",
         "Zhi Hao", "Jia Le", "Tian", "Bo", "Chen", "Long", "Yu", "Jason", "Kevin", "Daniel"],
        ["Mei", "Li", "Xin", "Yan", "Hui", "Jing", "Ying", "Chloe", "Emily", "Grace",
         "Xiao Ling", "Jia Yi", "Wen", "Lan", "Hua", "Yue", "Qing", "Amy", "Jessica", "Hannah"],
    ),
    "arab_other": (
        ["Omar", "Ahmed", "Youssef", "Karim", "Tariq", "Samir", "Adam", "Rami", "Jamal", "Nabil",
         "Mehmet", "Emre", "Kian", "Dariush", "José", "Mateo", "Tomás", "André", "Nuno", "Rafael"],
        ["Layla", "Nour", "Yasmin", "Leila", "Rania", "Salma", "Dina", "Hana", "Lina", "Sara",
         "Elif", "Zeynep", "Shirin", "Parisa", "Inês", "Sofía", "María José", "Beatriz", "Ana", "Lucía"],
    ),
}

# mothers' (born c. 1960-2005) forenames; other traditions reuse the children's lists
MOTHER_FORENAMES_BRITISH = [
    "Sarah", "Claire", "Emma", "Lisa", "Nicola", "Rachel", "Laura", "Gemma", "Kelly", "Michelle",
    "Joanne", "Helen", "Louise", "Amy", "Kirsty", "Stacey", "Jennifer", "Rebecca", "Victoria", "Samantha",
    "Katherine", "Elizabeth", "Hayley", "Danielle", "Charlotte", "Zoë", "Anne-Marie", "Siobhán", "Leanne", "Donna",
    "Natalie", "Jessica", "Hannah", "Lauren", "Stephanie", "Catherine", "Karen", "Tracey", "Jodie", "Abigail",
]
FATHER_FORENAMES_BRITISH = [
    "David", "Paul", "Mark", "Andrew", "Richard", "Daniel", "James", "Michael", "Christopher", "Matthew",
    "Stephen", "Robert", "Thomas", "Jonathan", "Lee", "Craig", "Darren", "Jason", "Wayne", "Gareth",
    "Ian", "Simon", "Neil", "Benjamin", "Samuel", "Nicholas", "William", "Adam", "Liam", "Seán",
]

SURNAMES = {
    "british": [
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
        "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
        "Patel", "Hughes", "Edwards", "Turner", "Hill", "Moore", "Cooper", "Ward", "Morris", "King",
        "O'Brien", "O'Connor", "O'Neill", "McDonald", "MacKenzie", "Fitzgerald", "Ashton-Smith", "Smith-Jones",
        "Bonham Carter", "Lloyd Webber", "Heywood-Lonsdale", "D'Arcy", "Le Fevre", "St John", "Van der Berg",
        "Murphy", "Kelly", "Walsh", "Byrne", "Doyle", "Barker", "Atkinson", "Holmes", "Marshall", "Lee",
    ],
    "east_european": [
        "Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
        "Szymańska", "Dąbrowski", "Popescu", "Ionescu", "Popa", "Rusu", "Stoica", "Horváth", "Novák",
        "Petrov", "Ivanova", "Kazlauskas", "Bērziņš", "Jankowski", "Mazur", "Krawczyk", "Grabowski",
    ],
    "south_asian_muslim": [
        "Khan", "Hussain", "Ahmed", "Ali", "Akhtar", "Iqbal", "Mahmood", "Rahman", "Begum", "Uddin",
        "Islam", "Miah", "Shah", "Malik", "Butt", "Rashid", "Qureshi", "Chaudhry", "Bibi", "Abdul Karim",
    ],
    "south_asian_hindu_sikh": [
        "Patel", "Singh", "Kaur", "Sharma", "Shah", "Mistry", "Gill", "Sandhu", "Sidhu", "Dhillon",
        "Kumar", "Gupta", "Joshi", "Chauhan", "Parmar", "Bains", "Solanki", "Desai", "Mehta", "Rao",
    ],
    "black_african": [
        "Okafor", "Adeyemi", "Mensah", "Osei", "Boateng", "Okonkwo", "Adebayo", "Mohamed", "Abdi", "Hassan",
        "Nwosu", "Eze", "Oyelaran", "Asante", "Owusu", "Musa", "Moyo", "Banda", "N'Diaye", "Diallo",
    ],
    "caribbean": [
        "Campbell", "Brown", "Williams", "Thomas", "Francis", "Richards", "Morgan", "Grant", "Clarke", "Henry",
        "Bailey", "Reid", "Stewart", "Samuels", "Gordon", "Forbes", "Bennett", "McKenzie", "Powell", "Lewis",
    ],
    "chinese": [
        "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
        "Wong", "Chan", "Cheung", "Lam", "Ng", "Ho", "Leung", "Tang", "Lau", "Yip",
    ],
    "arab_other": [
        "Al-Sayed", "Haddad", "Mansour", "Nasser", "Saleh", "El-Amin", "Abu-Zaid", "Yilmaz", "Kaya", "Demir",
        "Rezaei", "Hosseini", "Silva", "Santos", "Ferreira", "García", "Rodríguez", "Da Costa", "D'Souza", "Fernandes",
    ],
}

# nicknames / known-as names, and spelling variants a provider may record instead
NICKNAMES = {
    "William": "Will", "Thomas": "Tom", "James": "Jamie", "Joshua": "Josh", "Samuel": "Sam", "Daniel": "Dan",
    "Benjamin": "Ben", "Matthew": "Matt", "Alexander": "Alex", "Christopher": "Chris", "Nicholas": "Nick",
    "Michael": "Mike", "Robert": "Rob", "Jonathan": "Jon", "Edward": "Ed", "Oliver": "Ollie", "Zachary": "Zach",
    "Frederick": "Fred", "Elizabeth": "Beth", "Katherine": "Kate", "Rebecca": "Becky", "Victoria": "Vicky",
    "Samantha": "Sam", "Jennifer": "Jen", "Abigail": "Abbie", "Charlotte": "Lottie", "Isabella": "Bella",
    "Amelia": "Millie", "Olivia": "Liv", "Jessica": "Jess", "Sophia": "Sophie", "Hannah": "Anna",
    "Catherine": "Cathy", "Stephanie": "Steph", "Danielle": "Dani", "Natalie": "Nat", "Nicola": "Nicky",
    "Joanne": "Jo", "Andrew": "Andy", "Richard": "Rich", "Stephen": "Steve", "Mohammed": "Muhammad",
    "Muhammad": "Mohammed", "Mohammad": "Mohammed", "Aleksander": "Olek", "Małgorzata": "Gosia",
    "Wojciech": "Wojtek", "Oluwaseun": "Seun", "Temitope": "Tope", "Oluwatobi": "Tobi", "Gurpreet": "Gary",
    "Zhi Hao": "Jimmy", "Xiao Ling": "Lily", "Anne-Marie": "Anne Marie", "Lily-Rose": "Lily",
}

# --- local authorities: real DfE 3-digit codes with the ONS prefix of their kind
DFE_LA_CODES = (
    [(str(c), "E09") for c in range(201, 214)] + [(str(c), "E09") for c in range(301, 321)]
    + [(str(c), "E08") for c in (330, 331, 332, 333, 334, 335, 336, 340, 341, 342, 343, 344, 350, 351, 352,
                                 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 380, 381, 382, 383,
                                 384, 390, 391, 392, 393, 394)]
    + [(str(c), "E06") for c in (800, 801, 802, 805, 806, 807, 808, 810, 811, 812, 813, 815, 816, 821, 822,
                                 823, 826, 831, 835, 836, 837, 838, 839, 840, 841, 846, 851, 852, 865, 866,
                                 867, 868, 869, 870, 871, 872, 873, 874, 876, 877, 878, 879, 880, 883, 884,
                                 889, 890, 891, 892, 893, 894, 895, 896)]
    + [(str(c), "E07") for c in (825, 830, 845, 850, 855, 856, 857, 860, 861, 881, 882, 885, 886, 887, 908,
                                 909, 916, 919, 921, 925, 926, 928, 929, 931, 933, 935, 936, 937, 938)]
)
POSTCODE_AREAS = (
    "LS", "BD", "HX", "HD", "WF", "S", "DN", "YO", "HU", "M", "OL", "BL", "SK", "WN", "WA", "L", "CH", "PR",
    "BB", "LA", "NG", "DE", "LE", "CV", "B", "WS", "WV", "DY", "ST", "TF", "SY", "NN", "MK", "PE", "LN", "HG",
    "CW", "FY", "CA", "DL", "TS", "NE", "SR", "DH", "E", "N", "W", "SE", "SW", "EC",
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the inward code never uses C, I, K, M, O or V
TOWN_WORDS = (
    "Ashby", "Bramley", "Calder", "Denholme", "Elmfield", "Fairweather", "Greenhill", "Holbeck", "Ivy Bank",
    "Kirkstall", "Linthorpe", "Meanwood", "Netherton", "Oakwood", "Parkside", "Queensbury", "Roundhay",
    "Saltaire", "Thornbury", "Underhill", "Victoria", "Westfield", "Yeadon", "Brookfield", "Chapel Allerton",
    "Hyde Park", "Moorside", "Riverside", "St Mary's", "St Anne's", "St Joseph's", "Our Lady's", "Holy Trinity",
    "King's", "Queen's", "All Saints'", "Ravenscliffe", "Southfield", "Northgate", "Eastwood", "Lowfield",
)
PRIMARY_SUFFIXES = ("Primary School", "Primary Academy", "C of E Primary School", "Catholic Primary School",
                    "Junior and Infant School", "Community Primary School")
SECONDARY_SUFFIXES = ("High School", "Academy", "School", "College", "Catholic High School", "Grammar School")

# --- clinical codes
HES_CHILD_DIAGNOSES = {  # (code, weight in infancy, weight at 1-4, weight at 5-17)
    "J069": (10, 10, 6), "J219": (14, 2, 0.2), "J181": (4, 4, 2), "A099": (6, 7, 3), "R509": (8, 6, 2),
    "S099": (3, 5, 5), "S525": (0.2, 2, 4), "J459": (0.5, 4, 4), "L031": (1, 2, 2), "B349": (8, 6, 2),
    "K359": (0, 0.3, 4), "R104": (0.5, 2, 5), "N390": (3, 2, 2), "E109": (0, 0.5, 2), "G409": (1, 1, 1.5),
    "P599": (12, 0, 0), "R633": (4, 1, 0.5), "J350": (0, 3, 2), "T424": (0, 0.5, 0.5), "F500": (0, 0, 0.6),
}
HES_SECONDARY_DIAGNOSES = ("R509", "E86X", "Z290", "Y929", "W190", "J980", "R060", "Z711")
HES_CHILD_PROCEDURES = {"K359": "H011", "J350": "F341", "S525": "W242", "F500": "X291", "E109": "X352"}
HES_ANTENATAL = {"O470": 6, "O210": 3, "O141": 2, "O244": 2, "O234": 2, "O200": 3, "O368": 2, "O990": 1}
DELIVERY_METHODS = {  # delmeth: (share, primary diagnosis, main procedure)
    "0": (0.58, "O800", "R241"), "1": (0.02, "O801", "R241"), "2": (0.04, "O810", "R211"),
    "4": (0.06, "O814", "R221"), "5": (0.01, "O830", "R192"), "7": (0.12, "O820", "R171"),
    "8": (0.17, "O821", "R182"),
}
BIRTH_DIAGNOSIS = {1: "Z380", 2: "Z383", 3: "Z386"}
INFANT_DEATH_CAUSES = {"P072": 22, "P071": 8, "Q249": 10, "Q909": 3, "P219": 6, "P369": 5, "R95X": 8,
                       "P220": 5, "Q899": 6, "P291": 2, "G935": 2, "J189": 3}
CHILD_DEATH_CAUSES = {"V892": 12, "C910": 6, "C719": 6, "G409": 6, "G809": 5, "Q249": 4, "W690": 3,
                      "X700": 4, "J459": 3, "E848": 2, "R99X": 3, "W799": 2}
ADULT_DEATH_CAUSES = {"C509": 10, "X700": 6, "X420": 6, "I219": 5, "C719": 3, "O969": 2, "V892": 4,
                      "K703": 3, "I609": 3, "G409": 2}
MHSDS_SOURCES = ("A1", "A3", "B1", "C1", "D1", "E1", "F1", "G3", "H1", "M3")
MHSDS_SOURCE_SHARE = (0.35, 0.05, 0.05, 0.08, 0.15, 0.06, 0.04, 0.02, 0.12, 0.08)
MHSDS_REASONS = ("01", "02", "04", "05", "06", "08", "10", "11", "13", "15", "17", "18", "23", "25", "26")
MHSDS_SERVICES = ("C01", "C02", "C03", "C04", "C05", "C06", "C08", "A05", "A06", "A08")
CLA_LEGAL_STATUS = ("C2", "V2", "C1", "E1", "J2", "L2")
CLA_LEGAL_SHARE = (0.45, 0.22, 0.2, 0.08, 0.03, 0.02)
CLA_PLACEMENTS = ("U1", "U3", "U4", "U5", "U6", "K2", "R1", "P1", "H5", "S1", "Z1")
CLA_PLACEMENT_SHARE = (0.05, 0.25, 0.1, 0.08, 0.22, 0.12, 0.05, 0.06, 0.03, 0.02, 0.02)
CLA_CIN = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
CLA_CIN_SHARE = (0.65, 0.03, 0.04, 0.15, 0.05, 0.01, 0.02, 0.05)
CLA_REASON_END = ("E4A", "E11", "E12", "E13", "E41", "E48", "E5", "E8", "E17")
CLA_REASON_END_SHARE = (0.35, 0.12, 0.04, 0.06, 0.08, 0.05, 0.12, 0.1, 0.08)
CLA_REASON_NEW = ("P", "L", "T", "U", "B")
