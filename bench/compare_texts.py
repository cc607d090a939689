"""compare_texts.py — the prose that bench/compare builds its texts from.

Sentences written for this benchmark (no lorem ipsum): mostly English on varied
topics, plus other languages and scripts, some numbers and code, so that the
token mix looks like what an embedding service is fed. Texts are made by
joining sentences picked with a seeded random generator (see compare.py), so
the same seed and list always give the same texts.
"""

SENTENCES = [
    # English: science and nature
    "The Red Planet owes its colour to iron oxide dust that coats its plains and is lifted into the thin atmosphere by seasonal storms.",
    "Tardigrades can survive years without water by curling into a dried state called a tun, in which their metabolism nearly stops.",
    "A lightning bolt heats the air around it to roughly five times the temperature of the surface of the Sun, which is why thunder cracks so loudly.",
    "Coral reefs cover less than one percent of the ocean floor, yet they shelter about a quarter of all known marine species.",
    "When a star much heavier than the Sun runs out of fuel, its core collapses within a fraction of a second and the outer layers rebound as a supernova.",
    "Honeybees tell their sisters where flowers are by dancing: the angle of the waggle run points to the food, and its length encodes the distance.",
    "The deepest point of the Mariana Trench lies almost eleven kilometres below the surface, deeper than Mount Everest is tall.",
    "Photosynthesis splits water with the energy of light, releasing the oxygen that most animals on Earth depend on.",
    "Glaciers in the Alps have lost more than half of their volume since the middle of the nineteenth century.",
    "An octopus has three hearts, blue blood rich in copper, and most of its neurons spread along its eight arms.",
    # English: history and society
    "The printing press that Gutenberg built in Mainz around 1450 made books cheap enough for merchants, students and craftsmen to own.",
    "Roman engineers mixed volcanic ash with lime to make a concrete that hardened under water and still stands in harbours two thousand years later.",
    "The Silk Road was never a single road but a web of caravan routes that carried paper, glass, spices and ideas between China and the Mediterranean.",
    "In 1869 the first transcontinental railroad in the United States cut the journey from coast to coast from months to about a week.",
    "Public libraries in many towns began as reading rooms funded by workers who pooled a few coins each month to buy newspapers.",
    "The census of 1890 was the first to be tabulated with punched cards, an idea that later grew into the business of data processing.",
    "Before standard time zones, every town kept its own local noon, and railway timetables had to list dozens of different clocks.",
    "Medieval monasteries kept detailed records of harvests, floods and comets, which climate scientists still use today.",
    # English: everyday life, cooking, travel
    "To make a good risotto, toast the rice in butter until the grains turn translucent at the edges, then add warm stock one ladle at a time.",
    "Bread dough left to rise slowly overnight in the refrigerator develops a deeper flavour and a more open crumb.",
    "The night train from Vienna reaches Venice early in the morning, just as the first water buses start crossing the lagoon.",
    "If your flight is delayed by more than three hours, the airline may owe you compensation, depending on the distance and the cause of the delay.",
    "A cast iron pan should be dried over low heat right after washing and wiped with a thin film of oil so that it does not rust.",
    "Hikers on the coastal path are advised to check the tide tables, because several beaches can only be crossed at low water.",
    "Our neighbour grows tomatoes, beans and courgettes on a balcony barely two metres wide, using buckets and a cheap drip irrigation kit.",
    "The museum is closed on Mondays, but on the first Sunday of every month entry to the permanent collection is free.",
    "Please remember to bring your passport, a printed copy of the booking and a charger that fits the local sockets.",
    "After the marathon she could barely walk down the stairs, but a week later she had already signed up for the next one.",
    # English: technology and work
    "The service keeps recent memories in a small in-memory index and writes every change to an append-only log, so a crash never loses acknowledged data.",
    "Embedding models turn a sentence into a vector of a few hundred numbers, such that texts with similar meaning end up close together.",
    "A cache miss that goes all the way to main memory can cost as much as a few hundred arithmetic instructions on a modern processor.",
    "The quarterly report shows revenue up eleven percent year on year, driven mostly by subscriptions in the Asia Pacific region.",
    "Before merging, every pull request must pass the unit tests, the sanitizer build and a review by someone who did not write the change.",
    "Our support team answers most tickets within four hours, and urgent outages are escalated to the engineer on call immediately.",
    "Matrix multiplication dominates the cost of a transformer, so most of the speed of an inference engine comes from its GEMM kernels.",
    "The password reset link expires after thirty minutes; if it has expired, request a new one from the sign-in page.",
    "Retrieval augmented generation fetches the most relevant passages from a document store and hands them to the language model as context.",
    "The warehouse robots follow magnetic strips in the floor and slow down automatically whenever a person walks into their lane.",
    "Version 2.3 fixes a race condition in the connection pool that could return the same socket to two threads under heavy load.",
    "Customers who bought the blue kettle also asked whether its limescale filter can be replaced without tools.",
    # English: health, law, finance
    "Regular moderate exercise lowers blood pressure, improves sleep and reduces the risk of type 2 diabetes.",
    "The tenant must give at least two months of written notice before the end of the lease, unless both parties agree otherwise.",
    "Index funds aim to match the return of a market rather than beat it, which keeps their fees low.",
    "Patients should not take this medicine on an empty stomach, and should tell their doctor about any other drugs they are using.",
    "Under the new regulation, companies must report a personal data breach to the supervisory authority within seventy-two hours.",
    "Compound interest means that the interest earned each year is added to the principal and itself earns interest in the following years.",
    # English: questions, as users type them
    "Which planet is known as the Red Planet, and why does it look red from Earth?",
    "How do I convert a list of temperatures from Celsius to Fahrenheit in a spreadsheet without writing a macro?",
    "What is the difference between a virus and a bacterium, and why do antibiotics only work against one of them?",
    "Can I bring a folding bicycle on the regional train during rush hour, or do I need a separate ticket for it?",
    "Why does my sourdough starter smell like nail polish remover after a few days in the fridge?",
    "Is it safe to run the database migration while the application is still serving traffic?",
    # Code, numbers and mixed content
    "def mean(xs): return sum(xs) / len(xs) if xs else float('nan')  # returns NaN for an empty list",
    "SELECT customer_id, COUNT(*) AS orders FROM sales WHERE created_at >= '2024-01-01' GROUP BY customer_id ORDER BY orders DESC LIMIT 10;",
    "The error was: connection refused (errno 111) while connecting to 127.0.0.1:5432 after 3 retries in 1.5 s.",
    "Invoice #48213, due 2024-03-31: 12 units at EUR 49.90 each, VAT 19%, total EUR 712.57.",
    "for (size_t i = 0; i < n; i++) { acc += a[i] * b[i]; } /* the inner product, unrolled by the compiler */",
    "Flight LH 1234 departs from gate B42 at 07:35 and arrives at 09:10 local time; boarding closes 20 minutes before departure.",
    # French
    "Le train de nuit pour Paris part à vingt-deux heures et arrive le lendemain matin, juste à temps pour le petit-déjeuner.",
    "La cathédrale a été reconstruite après l'incendie grâce aux dons de milliers de personnes venues du monde entier.",
    "Pour réussir une pâte brisée, il faut travailler le beurre froid rapidement du bout des doigts et laisser reposer la pâte une heure.",
    "Les élèves doivent rendre leur dossier avant vendredi midi, faute de quoi la note sera réduite d'un point par jour de retard.",
    # German
    "Die Bibliothek verlängert ihre Öffnungszeiten während der Prüfungswochen bis Mitternacht, auch am Wochenende.",
    "Nach dem starken Regen musste die Feuerwehr mehrere Keller auspumpen und eine Straße am Flussufer sperren.",
    "Bitte trennen Sie Papier, Glas und Verpackungen, denn der Restmüll wird nur noch alle zwei Wochen abgeholt.",
    "Der Vertrag verlängert sich automatisch um ein Jahr, wenn er nicht drei Monate vor Ablauf schriftlich gekündigt wird.",
    # Spanish
    "El mercado abre todos los sábados en la plaza mayor, donde los agricultores venden frutas, quesos y pan recién horneado.",
    "La biblioteca digital permite consultar miles de manuscritos antiguos sin tener que viajar hasta la capital.",
    "Si el paquete no llega en diez días hábiles, puede solicitar el reembolso completo desde su cuenta de cliente.",
    "Los volcanes de Canarias siguen activos, y los científicos vigilan de cerca los pequeños terremotos bajo las islas.",
    # Italian and Portuguese
    "Il museo espone una collezione di strumenti scientifici del Rinascimento, tra cui astrolabi, bussole e orologi solari.",
    "Per arrivare al rifugio bisogna camminare circa tre ore lungo un sentiero ripido ma ben segnalato.",
    "A reunião foi adiada para a próxima semana porque metade da equipe estava participando de uma conferência em Lisboa.",
    "O Brasil abriga a maior parte da floresta amazônica, que regula as chuvas de boa parte da América do Sul.",
    # Dutch, Polish, Swedish, Turkish
    "De fietsenstalling bij het station biedt plaats aan twaalfduizend fietsen en is de hele nacht bewaakt.",
    "Pociąg do Krakowa jest opóźniony o około dwadzieścia minut z powodu prac remontowych na torach.",
    "Bibliotekets nya läsesal har stora fönster mot sjön och är öppen varje dag från klockan åtta.",
    "Yarınki toplantı saat onda başlayacak, lütfen sunum dosyalarınızı bu akşam paylaşın.",
    # Russian, Ukrainian, Greek
    "Озеро Байкал содержит около двадцати процентов всей пресной воды на поверхности Земли.",
    "Поезд отправляется с третьего пути, пассажиров просят заранее занять свои места.",
    "Київська бібліотека відкрила нову залу для дітей із книжками кількома мовами.",
    "Η Ακρόπολη της Αθήνας χτίστηκε τον πέμπτο αιώνα π.Χ. και παραμένει σύμβολο της αρχαίας Ελλάδας.",
    # Arabic, Hebrew, Persian
    "تقع مدينة البتراء في جنوب الأردن، وقد نُحتت مبانيها في الصخر الوردي قبل أكثر من ألفي عام.",
    "يرجى إحضار بطاقة الهوية عند استلام الطرد من مكتب البريد.",
    "הספרייה העירונית פתוחה בימים ראשון עד חמישי, ובימי שישי עד הצהריים בלבד.",
    "کتابخانه ملی ایران مجموعه بزرگی از نسخه‌های خطی فارسی و عربی را نگهداری می‌کند.",
    # Hindi, Bengali, Tamil
    "मानसून के मौसम में इस पहाड़ी रास्ते पर भूस्खलन का खतरा रहता है, इसलिए यात्रा से पहले मौसम की जानकारी ज़रूर लें।",
    "ভোরবেলায় নদীর ঘাটে জেলেরা তাদের নৌকা নিয়ে মাছ ধরতে বের হয়।",
    "இந்த கோயில் பதினோராம் நூற்றாண்டில் கட்டப்பட்டது மற்றும் அதன் சிற்பங்கள் புகழ்பெற்றவை.",
    # Chinese, Japanese, Korean
    "长城并不是一道连续的城墙，而是由不同朝代修建的许多段城墙和关隘组成的防御体系。",
    "请在出发前二十四小时内办理网上值机，并携带有效身份证件到机场。",
    "この駅では朝の通勤時間帯に電車が二分おきに到着しますが、それでもホームは混雑します。",
    "図書館の本は二週間借りることができ、予約がなければ一度だけ延長できます。",
    "서울의 지하철은 깨끗하고 정확하며, 대부분의 역에 영어 안내 방송이 나옵니다.",
    "이 제품은 구입 후 일 년 동안 무상으로 수리를 받을 수 있습니다.",
    # Vietnamese, Thai, Indonesian, Swahili
    "Vịnh Hạ Long có gần hai nghìn hòn đảo đá vôi nhô lên từ mặt nước xanh ngọc.",
    "ตลาดน้ำแห่งนี้เปิดตั้งแต่เช้ามืด และพ่อค้าแม่ค้าจะพายเรือขายผลไม้และอาหาร",
    "Pulau Komodo adalah satu-satunya tempat di dunia di mana kadal terbesar masih hidup di alam liar.",
    "Mlima Kilimanjaro ndio mlima mrefu zaidi barani Afrika, na kilele chake kimefunikwa na theluji.",
]

# One short search query (~15 tokens with the query prompt, <bos> and <eos>).
QUERY = "Which planet is known as the Red Planet?"
